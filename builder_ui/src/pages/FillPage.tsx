/**
 * The fill page of a signed-in user: loads the definition's form, the user's field access and
 * the live scripts, and sends the record; the form itself is the shared `FormBody` (also used by
 * public fill links). Works down to 375 px wide (one column on phones).
 */
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { App, Card, Result, Spin, Typography } from "antd";
import { useEffect, useState } from "react";
import { useTranslation } from "react-i18next";
import { useLocation, useNavigate, useParams } from "react-router";
import { api, ApiError } from "../api/client";
import type { RecordJson } from "../api/types";
import FormBody from "../components/FormBody";
import { formUse, useAppMenu } from "../forms/appMenu";
import { withParam } from "../forms/gridState";
import { fieldLabel, labelText } from "../forms/labels";
import { formulaDefaults } from "../forms/liveDefaults";
import { useLinkage } from "../forms/linkage";
import { lastWorkedWith, latestOwnRecord } from "../forms/phone";
import { issuesByField, literalDefault, recordBody } from "../forms/submit";
import { findForm, useApp } from "./appContext";

/** What the page that opened this one passed along (react-router's location state). */
interface Opened {
  /** Values to start from (e.g. the customer of a new 跟进记录 opened from that customer). */
  prefill?: Record<string, unknown>;
  /** Opened from an app home's quick-add entry (forms/phone.ts). */
  quick?: boolean;
  /** Opened from an empty picker: after saving, go back there with the new record in `field`. */
  returnTo?: { path: string; field: string; state?: Record<string, unknown> };
}

/** One page per form and record: going from one form's fill page to another's (an empty
 * picker's "add one", and back) starts afresh rather than keeping the other form's values. */
export default function FillPage() {
  const { form, id } = useParams();
  return <FillForm key={`${form}/${id ?? "new"}`} />;
}

function FillForm() {
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
  const state = location.state as Opened | null;
  // Opened from a quick-add entry of the app home: start from the caller's latest record's links.
  const quick = recordId === null && !!state?.quick;
  const latest = useQuery({
    queryKey: ["latest-own", app.key, formKey],
    queryFn: () => latestOwnRecord(app.key, formKey!),
    enabled: !!form && quick,
    staleTime: 0,
  });
  const [usual, setUsual] = useState<string[]>([]);

  const menu = useAppMenu(app);

  useEffect(() => {
    if (!form || values !== null) return;
    if (quick && (latest.isPending || permissions.isPending)) return;
    if (recordId === null) {
      if (live.isPending) return; // formula defaults (TODAY()) come with the live scripts
      const initial: Record<string, unknown> = {};
      for (const field of form.fields) {
        const value = literalDefault(field);
        if (value !== undefined) initial[field.key] = value;
      }
      Object.assign(initial, formulaDefaults(live.data, initial));
      // Values chosen by the page that opened this one (e.g. the customer of a new 跟进记录).
      const prefill = state?.prefill ?? {};
      for (const [key, value] of Object.entries(prefill)) if (keys.has(key)) initial[key] = value;
      if (quick) {
        const fields = permissions.data?.fields ?? {};
        const usualValues = lastWorkedWith(form.fields, latest.data ?? null, initial, (f) => (fields[f.key] ?? "editable") === "editable");
        Object.assign(initial, usualValues);
        setUsual(Object.keys(usualValues));
      }
      setValues(initial);
    } else if (existing.data) setValues({ ...existing.data });
  }, [form, recordId, existing.data, values, location.state, quick, latest.isPending, latest.data, permissions.isPending, permissions.data, live.isPending, live.data]);

  if (!form) return <Result status="404" title={t("errors.notFound")} />;
  const action = recordId === null ? "create" : "edit";
  // A form the user may not fill in says so up front rather than failing on 提交 (issue 16).
  const use = formUse(menu.data, form.key);
  const unreadable = permissions.error instanceof ApiError && permissions.error.status === 404;
  if ((recordId === null ? !use.create : !use.read) || unreadable)
    return <Result status="403" title={t("fix.noAccess")} subTitle={t("fix.noFillAccess")} data-testid="no-access" />;
  if (permissions.data && !permissions.data.actions.includes(action)) return <Result status="403" title={t("errors.forbidden")} />;
  if (values === null || permissions.isPending || live.isPending) return <Spin />;

  // Functional updates: an upload finishing calls the `change` of the render it started in, and
  // must not bring back the values of that moment (it would drop what was typed or uploaded since).
  function change(key: string, value: unknown) {
    setValues((current) => ({ ...current!, [key]: value }));
    setErrors((current) => {
      if (!current[key]) return current;
      const { [key]: _fixed, ...rest } = current;
      return rest;
    });
  }

  async function submit(sent: Set<string>, current: Record<string, unknown>) {
    setBusy(true);
    setErrors({});
    const body = recordBody(form!.fields, current, sent);
    try {
      let saved: RecordJson;
      if (recordId === null) saved = await api.create(app.key, form!.key, body);
      else saved = await api.update(app.key, form!.key, recordId, { ...body, _version: (existing.data as RecordJson)._version });
      message.destroy(); // earlier "fix the marked fields" notices no longer apply
      message.success(t("fill.saved"));
      await client.invalidateQueries({ queryKey: ["records", app.key, form!.key] });
      await client.invalidateQueries({ queryKey: ["record", app.key, form!.key, saved._id] });
      await client.invalidateQueries({ queryKey: ["history", app.key, form!.key, saved._id] });
      if (state?.returnTo) {
        // Added from an empty picker (RelationPicker): back to the page it came from, with the
        // new record picked there.
        const titleKey = form!.title_field;
        const title = titleKey && typeof saved[titleKey] === "string" ? (saved[titleKey] as string) : null;
        message.success(t("phone.picked", { form: labelText(form!.name, i18n.language, form!.key), title: title ?? `#${saved._id}` }));
        navigate(state.returnTo.path, { state: { ...state.returnTo.state, prefill: { [state.returnTo.field]: { _id: saved._id, title } } } });
        return;
      }
      if (recordId === null && !formUse(menu.data, form!.key).read) {
        // A 填报-only role: the record cannot be opened (the engine answers 404), so the
        // person is told it was submitted and goes back to the app's home.
        message.destroy();
        message.success(t("daily16.fillOnlySaved"));
        navigate(`/apps/${app.key}`);
        return;
      }
      // Back to the grid as it was (filter, sort, page: forms/gridState.ts), the record open.
      const back = (location.state as { back?: string } | null)?.back ?? "";
      navigate(`/apps/${app.key}/${form!.key}?${withParam(new URLSearchParams(back), "open", String(saved._id))}`);
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
        {usual.length > 0 && (
          <Typography.Paragraph type="secondary" data-testid="usual-values">
            {t("phone.lastWorkedWith", {
              field: usual.map((key) => fieldLabel(form.fields.find((f) => f.key === key)!, i18n.language)).join("、"),
            })}
          </Typography.Paragraph>
        )}
        <FormBody
          app={app}
          fields={form.fields}
          values={values}
          errors={errors}
          onChange={change}
          onSubmit={submit}
          onCancel={() => navigate(-1)}
          access={permissions.data?.fields}
          live={live.data}
          display={menu.data?.forms[form.key]?.display}
          isNew={recordId === null}
          busy={busy}
          submitLabel={recordId === null ? t("fill.submit") : t("fill.save")}
        />
      </Card>
    </div>
  );
}
