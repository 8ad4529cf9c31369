/**
 * 预览 / Preview: the draft form as a user would fill it — sections, widths and the real inputs
 * of the fill page (FieldInput, SubformInput) — on a desktop or in a 375 px phone frame.
 * Values stay in this dialog; nothing is saved, and formulas and show rules are not evaluated
 * (they run once the form is published).
 */
import { DesktopOutlined, MobileOutlined } from "@ant-design/icons";
import { Col, Divider, Form, Modal, Row, Segmented, Typography } from "antd";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import type { AppDef, FormDef } from "../api/types";
import FieldInput from "../components/FieldInput";
import SubformInput from "../components/SubformInput";
import { isComputed } from "../forms/fieldTypes";
import { fieldLabel, labelText } from "../forms/labels";
import { groupSections, widthSpan } from "./state";

/** The phone frame's width: the narrowest screen Jimu supports. */
export const PHONE_WIDTH = 375;

interface Props {
  open: boolean;
  onClose(): void;
  /** The draft app definition (state.buildDefinition) and its designed form. */
  app: AppDef;
  form: FormDef;
}

export default function PreviewModal({ open, onClose, app, form }: Props) {
  const { t, i18n } = useTranslation();
  const [device, setDevice] = useState<"desktop" | "phone">("desktop");
  const [values, setValues] = useState<Record<string, unknown>>({});
  const phone = device === "phone";
  return (
    <Modal
      open={open}
      onCancel={onClose}
      afterOpenChange={(visible) => !visible && setValues({})}
      footer={null}
      width={phone ? PHONE_WIDTH + 64 : 960}
      title={
        <span style={{ display: "flex", gap: 12, alignItems: "center", flexWrap: "wrap" }}>
          {t("canvas.preview")}
          <Segmented
            size="small"
            value={device}
            onChange={(v) => setDevice(v as "desktop" | "phone")}
            options={[
              { value: "desktop", icon: <DesktopOutlined />, label: <span data-testid="preview-desktop">{t("canvas.desktop")}</span> },
              { value: "phone", icon: <MobileOutlined />, label: <span data-testid="preview-phone">{t("canvas.phone")}</span> },
            ]}
          />
        </span>
      }
      destroyOnHidden
    >
      <div
        data-testid="preview-frame"
        data-device={device}
        style={{
          width: phone ? PHONE_WIDTH : "100%",
          maxWidth: "100%",
          margin: "0 auto",
          padding: phone ? 12 : 0,
          border: phone ? "8px solid #262626" : undefined,
          borderRadius: phone ? 24 : undefined,
          maxHeight: "70vh",
          overflowY: "auto",
          boxSizing: "border-box",
        }}
      >
        <Typography.Title level={5} style={{ marginTop: 0 }}>
          {labelText(form.name, i18n.language, form.key)}
        </Typography.Title>
        <Typography.Text type="secondary" style={{ display: "block", marginBottom: 8, fontSize: 12 }}>
          {t("canvas.previewHint")}
        </Typography.Text>
        <Form layout="vertical">
          {groupSections(form.fields).map((group, index) => (
            <div key={group.section?.key ?? `head-${index}`}>
              {group.section && (
                <Divider titlePlacement="start" style={{ marginTop: 8 }} data-testid={`preview-section-${group.section.key}`}>
                  {fieldLabel(group.section, i18n.language)}
                </Divider>
              )}
              <Row gutter={16}>
                {group.fields.map((field) => (
                  <Col key={field.key} span={phone ? 24 : widthSpan(field)} data-testid={`preview-field-${field.key}`}>
                    <Form.Item label={fieldLabel(field, i18n.language)} htmlFor={`preview-input-${field.key}`} required={!!field.required} extra={labelText(field.help, i18n.language) || undefined}>
                      {isComputed(field) ? (
                        <Typography.Text type="secondary">{t("fill.computed")}</Typography.Text>
                      ) : field.type === "subform" ? (
                        <SubformInput app={app} field={field} value={values[field.key]} onChange={(rows) => setValues({ ...values, [field.key]: rows })} results={[]} types={{}} />
                      ) : (
                        <FieldInput app={app} field={field} value={values[field.key]} idPrefix="preview-input-" onChange={(v) => setValues({ ...values, [field.key]: v })} />
                      )}
                    </Form.Item>
                  </Col>
                ))}
              </Row>
            </div>
          ))}
        </Form>
      </div>
    </Modal>
  );
}
