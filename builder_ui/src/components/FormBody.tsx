/**
 * The body of a fill form, shared by the signed-in fill page and the public fill link: an input
 * per shown field laid out by its `width`, formulas and show/hide/read-only rules re-evaluated
 * live in the browser (forms/live.ts) when the scripts are given, the server's field-level
 * errors at their fields, and the submit button. The caller loads data and sends the record.
 *
 * Files upload as soon as they are picked; the body's `UploadTracker` (forms/uploads.ts) knows
 * which are still going up. Submitting then waits for them (the button reads 上传中…) and sends
 * the values with their files; an upload that failed is shown at its field and blocks the submit.
 */
import { Alert, App, Button, Col, Form, Row, Space, Typography } from "antd";
import { useMemo, useRef } from "react";
import { useTranslation } from "react-i18next";
import type { AppDef, FieldDef, LiveScripts } from "../api/types";
import { isComputed, LAYOUT_TYPES } from "../forms/fieldTypes";
import { fieldLabel, labelText } from "../forms/labels";
import { makeLive, type LiveResult } from "../forms/live";
import { UploadContext, useUploadGate, type UploadSlot } from "../forms/uploads";
import { colSpans } from "../views/helpers";
import FieldInput, { EDITABLE_TYPES } from "./FieldInput";
import { displayField, type DisplayEntry } from "../forms/appMenu";
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
  /** Submit with the keys of the fields the user could change (what the record body sends) and
   * the values to send: those given plus every change made since, uploads finished meanwhile
   * included (a submit that waited for uploads must not send the values of the moment it was pressed). */
  onSubmit(sent: Set<string>, values: Record<string, unknown>): void;
  onCancel?(): void;
  access?: Record<string, Access>;
  live?: LiveScripts;
  /** How lookups, rollups and formulas show (`GET /apps/{app}/menu`; absent on public links). */
  display?: Record<string, DisplayEntry>;
  isNew: boolean;
  busy: boolean;
  submitLabel: string;
}

const EMPTY: LiveResult = { computed: {}, visible: {}, readonly: {}, rows: {} };

export default function FormBody({ app, fields: all, values, errors, onChange, onSubmit, onCancel, access = {}, live, display, isNew, busy, submitLabel }: Props) {
  const { t, i18n } = useTranslation();
  const { message } = App.useApp();
  const gate = useUploadGate();
  const { tracker, state: uploads, waiting } = gate;
  const slots = useRef(new Map<string, UploadSlot>());
  const slotOf = (key: string): UploadSlot => {
    let slot = slots.current.get(key);
    if (!slot) slots.current.set(key, (slot = { tracker, field: key }));
    return slot;
  };
  // The values with every change made since the page last gave them (see onSubmit).
  const latest = useRef(values);
  const given = useRef(values);
  if (given.current !== values) {
    given.current = values;
    latest.current = values;
  }
  const change = (key: string, value: unknown) => {
    latest.current = { ...latest.current, [key]: value };
    onChange(key, value);
  };
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

  async function submit(sent: Set<string>) {
    if (waiting) return;
    // Waits for the uploads (a drawn signature not yet confirmed starts its own now); a submit
    // left waiting is dropped when the user cancels or leaves the page.
    const result = await gate.ready();
    if (!result.ok) {
      if ("failures" in result) message.error(t("fill.uploadFailed"));
      return;
    }
    onSubmit(sent, latest.current);
  }

  const uploadErrors = (key: string) =>
    uploads.failures.filter((f) => f.field === key).map((f) => t("fill.uploadFailedAt", { name: f.name, message: f.message }));

  return (
    <>
      {errors[""] && <Alert type="error" showIcon title={errors[""].join("；")} style={{ marginBottom: 12 }} />}
      <Form
        layout="vertical"
        onFinish={() => void submit(new Set(fields.filter(editable).map((f) => f.key)))}
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
            const error = [...(errors[field.key] ?? []), ...uploadErrors(field.key)];
            return (
              <Col key={field.key} {...colSpans(field)} data-testid={`field-${field.key}`}>
                <Form.Item
                  label={fieldLabel(field, i18n.language)}
                  htmlFor={`field-input-${field.key}`}
                  required={!!field.required && editable(field)}
                  validateStatus={error.length ? "error" : undefined}
                  help={error.length ? <span data-testid={`field-error-${field.key}`}>{error.join("；")}</span> : undefined}
                  extra={labelText(field.help, i18n.language) || (computed ? t("fill.computed") : undefined)}
                >
                  <UploadContext.Provider value={slotOf(field.key)}>
                  {computed ? (
                    <Typography.Text strong data-testid={`computed-${field.key}`}>
                      <FieldValue field={display?.[field.key] ? displayField(field, display) : field.type === "formula" ? { ...field, type: live?.formulas.find((f) => f.key === field.key)?.type ?? "text" } : field} value={value} />
                    </Typography.Text>
                  ) : field.type === "subform" ? (
                    <SubformInput
                      app={app}
                      field={field}
                      value={value}
                      results={evaluated.rows[field.key] ?? []}
                      types={Object.fromEntries((live?.subforms?.[field.key]?.formulas ?? []).map((f) => [f.key, f.type]))}
                      disabled={!editable(field)}
                      onChange={(rows) => change(field.key, rows)}
                    />
                  ) : (
                    <FieldInput
                      app={app}
                      field={field}
                      value={value}
                      disabled={!editable(field)}
                      autoFocus={field.key === first}
                      onChange={(v) => change(field.key, v)}
                    />
                  )}
                  </UploadContext.Provider>
                </Form.Item>
              </Col>
            );
          })}
        </Row>
        {/* On phones the bar sticks to the bottom of the screen (styles.css) and the form scrolls under it. */}
        <Space className="jimu-submit-bar">
          <Button type="primary" htmlType="submit" loading={busy || waiting} disabled={waiting} data-testid="fill-submit">
            {waiting ? t("fill.uploading") : submitLabel}
          </Button>
          {onCancel && (
            <Button
              onClick={() => {
                gate.cancel();
                onCancel();
              }}
            >
              {t("fill.cancel")}
            </Button>
          )}
          {uploads.uploading > 0 && !waiting && (
            <Typography.Text type="secondary" data-testid="uploads-running">
              {t("fill.uploadsRunning", { count: uploads.uploading })}
            </Typography.Text>
          )}
        </Space>
      </Form>
    </>
  );
}
