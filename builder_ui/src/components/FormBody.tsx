/**
 * The body of a fill form, shared by the signed-in fill page and the public fill link: an input
 * per shown field laid out by its `width`, formulas and show/hide/read-only rules re-evaluated
 * live in the browser (forms/live.ts) when the scripts are given, the server's field-level
 * errors at their fields, and the submit button. The caller loads data and sends the record.
 */
import { Alert, Button, Col, Form, Row, Space, Typography } from "antd";
import { useMemo, useRef } from "react";
import { useTranslation } from "react-i18next";
import type { AppDef, FieldDef, LiveScripts } from "../api/types";
import { isComputed, LAYOUT_TYPES } from "../forms/fieldTypes";
import { fieldLabel, labelText } from "../forms/labels";
import { makeLive, type LiveResult } from "../forms/live";
import { colSpans } from "../views/helpers";
import FieldInput, { EDITABLE_TYPES } from "./FieldInput";
import FieldValue from "./FieldValue";
import SubformInput from "./SubformInput";

type Access = "hidden" | "read_only" | "editable";

interface Props {
  /** The app whose pickers the inputs use (a public page passes a one-form stand-in). */
  app: AppDef;
  fields: FieldDef[];
  values: Record<string, unknown>;
  errors: Record<string, string[]>;
  onChange(key: string, value: unknown): void;
  /** Submit with the keys of the fields the user could change (what the record body sends). */
  onSubmit(sent: Set<string>): void;
  onCancel?(): void;
  access?: Record<string, Access>;
  live?: LiveScripts;
  isNew: boolean;
  busy: boolean;
  submitLabel: string;
}

const EMPTY: LiveResult = { computed: {}, visible: {}, readonly: {}, rows: {} };

export default function FormBody({ app, fields: all, values, errors, onChange, onSubmit, onCancel, access = {}, live, isNew, busy, submitLabel }: Props) {
  const { t, i18n } = useTranslation();
  const engine = useMemo(() => (live ? makeLive(live) : null), [live]);
  const evaluated: LiveResult = engine ? engine.evaluate(values) : EMPTY;
  const shown = (field: FieldDef) => access[field.key] !== "hidden" && evaluated.visible[field.key] !== false;
  const editable = (field: FieldDef) =>
    (EDITABLE_TYPES.has(field.type) || field.type === "subform") &&
    !isComputed(field) &&
    access[field.key] !== "read_only" &&
    evaluated.readonly[field.key] !== true;
  const fields = all.filter((f) => !LAYOUT_TYPES.has(f.type) && shown(f));
  const liveFormulas = new Set(live?.formulas.map((f) => f.key));
  // Keyboard-first filling: the first editable field has the focus when the page opens.
  const empty = (v: unknown) => v === undefined || v === null || v === "" || (Array.isArray(v) && v.length === 0);
  const focusable = (f: FieldDef) => editable(f) && f.type !== "subform";
  // Chosen once: a field a rule shows later must not take the focus from the one being typed into.
  const opening = useRef<string | undefined | null>(null);
  if (opening.current === null) opening.current = (fields.find((f) => focusable(f) && empty(values[f.key])) ?? fields.find(focusable))?.key;
  const first = opening.current;

  return (
    <>
      {errors[""] && <Alert type="error" showIcon title={errors[""].join("；")} style={{ marginBottom: 12 }} />}
      <Form
        layout="vertical"
        onFinish={() => onSubmit(new Set(fields.filter(editable).map((f) => f.key)))}
        data-testid="fill-form"
        // Enter confirms a date or a search inside a field; only the button submits.
        onKeyDown={(e) => {
          if (e.key === "Enter" && (e.target as HTMLElement).tagName === "INPUT") e.preventDefault();
        }}
      >
        <Row gutter={16}>
          {fields.map((field) => {
            const computed = isComputed(field);
            const value = liveFormulas.has(field.key) ? evaluated.computed[field.key] : values[field.key];
            if (computed && isNew && !liveFormulas.has(field.key)) return null; // filled in by the server
            const error = errors[field.key];
            return (
              <Col key={field.key} {...colSpans(field)} data-testid={`field-${field.key}`}>
                <Form.Item
                  label={fieldLabel(field, i18n.language)}
                  htmlFor={`field-input-${field.key}`}
                  required={!!field.required && editable(field)}
                  validateStatus={error ? "error" : undefined}
                  help={error ? error.join("；") : undefined}
                  extra={labelText(field.help, i18n.language) || (computed ? t("fill.computed") : undefined)}
                >
                  {computed ? (
                    <Typography.Text strong data-testid={`computed-${field.key}`}>
                      <FieldValue field={field.type === "formula" ? { ...field, type: live?.formulas.find((f) => f.key === field.key)?.type ?? "text" } : field} value={value} />
                    </Typography.Text>
                  ) : field.type === "subform" ? (
                    <SubformInput
                      app={app}
                      field={field}
                      value={value}
                      results={evaluated.rows[field.key] ?? []}
                      types={Object.fromEntries((live?.subforms?.[field.key]?.formulas ?? []).map((f) => [f.key, f.type]))}
                      disabled={!editable(field)}
                      onChange={(rows) => onChange(field.key, rows)}
                    />
                  ) : (
                    <FieldInput
                      app={app}
                      field={field}
                      value={value}
                      disabled={!editable(field)}
                      autoFocus={field.key === first}
                      onChange={(v) => onChange(field.key, v)}
                    />
                  )}
                </Form.Item>
              </Col>
            );
          })}
        </Row>
        <Space>
          <Button type="primary" htmlType="submit" loading={busy} data-testid="fill-submit">
            {submitLabel}
          </Button>
          {onCancel && <Button onClick={onCancel}>{t("fill.cancel")}</Button>}
        </Space>
      </Form>
    </>
  );
}
