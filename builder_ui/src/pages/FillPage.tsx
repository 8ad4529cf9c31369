/**
 * The fill page, generated from the form definition: an input per field, formulas and show/hide
 * rules re-evaluated live in the browser (forms/live.ts), and the server's field-level errors
 * shown at their fields. Works down to 375 px wide (one column on phones).
 */
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { Alert, App, Button, Card, Col, Form, Result, Row, Space, Spin, Typography } from "antd";
import { useEffect, useMemo, useState } from "react";
import { useTranslation } from "react-i18next";
import { useLocation, useNavigate, useParams } from "react-router";
import { api, ApiError } from "../api/client";
import type { FieldDef, RecordJson } from "../api/types";
import FieldInput, { EDITABLE_TYPES } from "../components/FieldInput";
import FieldValue from "../components/FieldValue";
import SubformInput from "../components/SubformInput";
import { isComputed, LAYOUT_TYPES, span } from "../forms/fieldTypes";
import { fieldLabel, labelText } from "../forms/labels";
import { useLinkage } from "../forms/linkage";
import { makeLive, type LiveResult } from "../forms/live";
import { issuesByField, literalDefault, recordBody } from "../forms/submit";
import { findForm, useApp } from "./appContext";

export default function FillPage() {
  const { form: formKey, id } = useParams();
  const { app } = useApp();
  const { t, i18n } = useTranslation();
  const { message } = App.useApp();
  const navigate = useNavigate();
  const location = useLocation();
  const client = useQueryClient();
  const form = findForm(app, formKey);
  const recordId = id ? Number(id) : null;
  const keys = new Set((form?.fields ?? []).map((f) => f.key));
  const permissions = useQuery({ queryKey: ["permissions", app.key, formKey], queryFn: () => api.permissions(app.key, formKey!), enabled: !!form });
  const live = useQuery({ queryKey: ["live", app.key, formKey, app._revision], queryFn: () => api.live(app.key, formKey!), enabled: !!form });
  const existing = useQuery({
    queryKey: ["record", app.key, formKey, recordId],
    queryFn: () => api.record(app.key, formKey!, recordId!),
    enabled: !!form && recordId !== null,
  });
  const [values, setValues] = useState<Record<string, unknown> | null>(null);
  const [errors, setErrors] = useState<Record<string, string[]>>({});
  const [busy, setBusy] = useState(false);
  useLinkage(app.key, form, values, setValues, recordId === null); // data linkage defaults fill as conditions change

  useEffect(() => {
    if (!form || values !== null) return;
    if (recordId === null) {
      const initial: Record<string, unknown> = {};
      for (const field of form.fields) {
        const value = literalDefault(field);
        if (value !== undefined) initial[field.key] = value;
      }
      // Values chosen by the page that opened this one (e.g. the customer of a new 跟进记录).
      const prefill = (location.state as { prefill?: Record<string, unknown> } | null)?.prefill ?? {};
      for (const [key, value] of Object.entries(prefill)) if (keys.has(key)) initial[key] = value;
      setValues(initial);
    } else if (existing.data) setValues({ ...existing.data });
  }, [form, recordId, existing.data, values, location.state]);

  const engine = useMemo(() => (live.data ? makeLive(live.data) : null), [live.data]);
  if (!form) return <Result status="404" title={t("errors.notFound")} />;
  const action = recordId === null ? "create" : "edit";
  if (permissions.data && !permissions.data.actions.includes(action)) return <Result status="403" title={t("errors.forbidden")} />;
  if (values === null || permissions.isPending || live.isPending) return <Spin />;

  const access = permissions.data?.fields ?? {};
  const evaluated: LiveResult = engine ? engine.evaluate(values) : { computed: {}, visible: {}, readonly: {}, rows: {} };
  const shown = (field: FieldDef) => access[field.key] !== "hidden" && evaluated.visible[field.key] !== false;
  const editable = (field: FieldDef) =>
    (EDITABLE_TYPES.has(field.type) || field.type === "subform") &&
    !isComputed(field) &&
    access[field.key] !== "read_only" &&
    evaluated.readonly[field.key] !== true;
  const fields = form.fields.filter((f) => !LAYOUT_TYPES.has(f.type) && shown(f));
  const liveFormulas = new Set(live.data?.formulas.map((f) => f.key));
  // Keyboard-first filling: the first editable field has the focus when the page opens.
  const empty = (v: unknown) => v === undefined || v === null || v === "" || (Array.isArray(v) && v.length === 0);
  const focusable = (f: FieldDef) => editable(f) && f.type !== "subform";
  const first = (fields.find((f) => focusable(f) && empty(values[f.key])) ?? fields.find(focusable))?.key;

  function change(key: string, value: unknown) {
    setValues({ ...values!, [key]: value });
    if (errors[key]) {
      const { [key]: _fixed, ...rest } = errors;
      setErrors(rest);
    }
  }

  async function submit() {
    setBusy(true);
    setErrors({});
    const sent = new Set(fields.filter(editable).map((f) => f.key));
    const body = recordBody(form!.fields, values!, sent);
    try {
      let saved: RecordJson;
      if (recordId === null) saved = await api.create(app.key, form!.key, body);
      else saved = await api.update(app.key, form!.key, recordId, { ...body, _version: (existing.data as RecordJson)._version });
      message.destroy(); // earlier "fix the marked fields" notices no longer apply
      message.success(t("fill.saved"));
      await client.invalidateQueries({ queryKey: ["records", app.key, form!.key] });
      await client.invalidateQueries({ queryKey: ["record", app.key, form!.key, saved._id] });
      await client.invalidateQueries({ queryKey: ["history", app.key, form!.key, saved._id] });
      navigate(`/apps/${app.key}/${form!.key}?open=${saved._id}`);
    } catch (e) {
      if (e instanceof ApiError) {
        setErrors(issuesByField(e.issues, keys));
        message.error(e.issues.length ? t("fill.failed") : e.message);
      } else message.error(t("errors.generic"));
    } finally {
      setBusy(false);
    }
  }

  return (
    <div className="jimu-fill">
      <Card title={labelText(form.name, i18n.language, form.key)} size="small">
        {errors[""] && <Alert type="error" showIcon title={errors[""].join("；")} style={{ marginBottom: 12 }} />}
        <Form
          layout="vertical"
          onFinish={submit}
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
              if (computed && recordId === null && !liveFormulas.has(field.key)) return null; // filled in by the server
              const error = errors[field.key];
              return (
                <Col key={field.key} xs={24} md={span(field)} data-testid={`field-${field.key}`}>
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
                        <FieldValue field={field.type === "formula" ? { ...field, type: live.data?.formulas.find((f) => f.key === field.key)?.type ?? "text" } : field} value={value} />
                      </Typography.Text>
                    ) : field.type === "subform" ? (
                      <SubformInput
                        app={app}
                        field={field}
                        value={value}
                        results={evaluated.rows[field.key] ?? []}
                        types={Object.fromEntries((live.data?.subforms?.[field.key]?.formulas ?? []).map((f) => [f.key, f.type]))}
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
                  </Form.Item>
                </Col>
              );
            })}
          </Row>
          <Space>
            <Button type="primary" htmlType="submit" loading={busy} data-testid="fill-submit">
              {recordId === null ? t("fill.submit") : t("fill.save")}
            </Button>
            <Button onClick={() => navigate(-1)}>{t("fill.cancel")}</Button>
          </Space>
        </Form>
      </Card>
    </div>
  );
}
