/** The rows of a subform on the fill page: one card per row (phone-friendly), add and remove. */
import { DeleteOutlined, PlusOutlined } from "@ant-design/icons";
import { Button, Card, Col, Form, Row, Typography } from "antd";
import { useTranslation } from "react-i18next";
import type { AppDef, FieldDef } from "../api/types";
import { isComputed, LAYOUT_TYPES } from "../forms/fieldTypes";
import { fieldLabel } from "../forms/labels";
import type { RuleResult } from "../forms/live";
import { literalDefault } from "../forms/submit";
import FieldInput, { EDITABLE_TYPES } from "./FieldInput";
import FieldValue from "./FieldValue";

type Values = Record<string, unknown>;

interface Props {
  app: AppDef;
  field: FieldDef;
  value: unknown;
  onChange(rows: Values[]): void;
  results: RuleResult[];
  /** Result type of each live row formula (to show it like a value of that type). */
  types: Record<string, string>;
  disabled?: boolean;
}

export default function SubformInput({ app, field, value, onChange, results, types, disabled }: Props) {
  const { t, i18n } = useTranslation();
  const rows = Array.isArray(value) ? (value as Values[]) : [];
  const subfields = (field.fields ?? []).filter((f) => !LAYOUT_TYPES.has(f.type));
  const update = (index: number, key: string, v: unknown) => onChange(rows.map((row, i) => (i === index ? { ...row, [key]: v } : row)));
  const add = () => {
    const row: Values = {};
    for (const sub of subfields) {
      const d = literalDefault(sub);
      if (d !== undefined) row[sub.key] = d;
    }
    onChange([...rows, row]);
  };
  return (
    <div data-testid={`subform-${field.key}`} style={{ width: "100%" }}>
      {rows.map((row, index) => {
        const result = results[index];
        return (
          <Card
            key={String(row._id ?? `new-${index}`)}
            size="small"
            style={{ marginBottom: 8 }}
            title={`#${index + 1}`}
            data-testid={`subform-${field.key}-row-${index}`}
            extra={
              !disabled && (
                <Button type="text" size="small" icon={<DeleteOutlined />} aria-label={t("fill.removeRow")} onClick={() => onChange(rows.filter((_, i) => i !== index))} />
              )
            }
          >
            <Row gutter={8}>
              {subfields
                .filter((sub) => result?.visible[sub.key] !== false)
                .map((sub) => {
                  const live = sub.key in (result?.computed ?? {});
                  const cell = live ? result.computed[sub.key] : row[sub.key];
                  const locked = disabled || result?.readonly[sub.key] === true || !EDITABLE_TYPES.has(sub.type);
                  return (
                    <Col key={sub.key} xs={24} sm={12} md={6}>
                      <Form.Item label={fieldLabel(sub, i18n.language)} htmlFor={`field-input-${field.key}-${index}-${sub.key}`} required={!!sub.required} style={{ marginBottom: 8 }}>
                        {isComputed(sub) ? (
                          <Typography.Text strong data-testid={`computed-${field.key}-${index}-${sub.key}`}>
                            <FieldValue field={{ ...sub, type: types[sub.key] ?? sub.type }} value={cell} />
                          </Typography.Text>
                        ) : (
                          <FieldInput
                            app={app}
                            field={sub}
                            value={cell}
                            disabled={locked}
                            idPrefix={`field-input-${field.key}-${index}-`}
                            onChange={(v) => update(index, sub.key, v)}
                          />
                        )}
                      </Form.Item>
                    </Col>
                  );
                })}
            </Row>
          </Card>
        );
      })}
      {!disabled && (
        <Button type="dashed" block icon={<PlusOutlined />} onClick={add} data-testid={`subform-${field.key}-add`}>
          {t("fill.addRow")}
        </Button>
      )}
    </div>
  );
}
