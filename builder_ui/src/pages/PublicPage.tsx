/**
 * A public link (外链) opened without signing in, outside the signed-in shell: a fill link shows
 * the same form body as the fill page (only the link's fields), a query link its search fields
 * and the matching records. A password prompt appears when the link has one; a disabled or
 * expired link (410), too many attempts (429) and unknown links get a clear message.
 *
 * The server describes a link with its fields' plain properties only (no formulas, conditions
 * or live scripts, which could reveal fields outside the link), so show/hide rules and live
 * formulas do not run here; the server still applies every rule when the record is submitted.
 */
import { useQuery } from "@tanstack/react-query";
import { Button, Card, Form, Input, Result, Space, Spin, Table, Typography } from "antd";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { useParams } from "react-router";
import { ApiError } from "../api/client";
import type { AppDef, FieldDef } from "../api/types";
import { publicLink, type PublicForm } from "../api/views";
import FieldInput from "../components/FieldInput";
import FieldValue from "../components/FieldValue";
import FormBody from "../components/FormBody";
import { UploadTargetContext } from "../components/fileScope";
import LanguageSwitch from "../components/LanguageSwitch";
import { fieldLabel, labelText } from "../forms/labels";
import { inputValue, issuesByField, literalDefault, recordBody } from "../forms/submit";

type Values = Record<string, unknown>;

/** The one-form app the inputs need (public links offer no pickers of other records). */
function standIn(described: PublicForm): AppDef {
  return {
    key: described.app.key,
    name: described.app.name,
    version: "",
    forms: [{ key: described.form.key, name: described.form.name, fields: described.fields }],
    menu: [],
    _revision: 0,
  };
}

function Refusal({ error }: { error: ApiError }) {
  const { t } = useTranslation();
  if (error.status === 410)
    return <Result status="warning" title={t("pub.gone")} subTitle={error.message} data-testid="public-gone" />;
  if (error.status === 429)
    return <Result status="warning" title={t("pub.throttled")} subTitle={error.message} data-testid="public-throttled" />;
  if (error.status === 404) return <Result status="404" title={t("pub.notFound")} data-testid="public-not-found" />;
  return <Result status="error" title={t("errors.generic")} subTitle={error.message} data-testid="public-error" />;
}

function PasswordPrompt({ error, onEnter }: { error: ApiError | null; onEnter(password: string): void }) {
  const { t } = useTranslation();
  const [password, setPassword] = useState("");
  return (
    <Card title={t("pub.passwordTitle")} size="small" data-testid="public-password">
      <Form layout="vertical" onFinish={() => password && onEnter(password)}>
        <Form.Item
          label={t("pub.password")}
          htmlFor="public-password-input"
          validateStatus={error ? "error" : undefined}
          help={error?.message}
        >
          <Input.Password id="public-password-input" value={password} autoFocus onChange={(e) => setPassword(e.target.value)} data-testid="public-password-input" />
        </Form.Item>
        <Button type="primary" htmlType="submit" data-testid="public-password-submit">
          {t("pub.enter")}
        </Button>
      </Form>
    </Card>
  );
}

function FillLink({ token, password, described, onRefused }: { token: string; password: string | null; described: PublicForm; onRefused(e: ApiError): void }) {
  const { t } = useTranslation();
  const initial = () => {
    const values: Values = {};
    for (const field of described.fields) {
      const value = literalDefault(field);
      if (value !== undefined) values[field.key] = value;
    }
    return values;
  };
  const [values, setValues] = useState<Values>(initial);
  const [errors, setErrors] = useState<Record<string, string[]>>({});
  const [busy, setBusy] = useState(false);
  const [done, setDone] = useState(false);
  const keys = new Set(described.fields.map((f) => f.key));
  // Rules the server compiled for the link's own fields; without them the page still works and
  // the server applies every rule on submit.
  const live = useQuery({ queryKey: ["public-live", token, password], queryFn: () => publicLink.live(token, password), retry: false });

  if (done)
    return (
      <Result
        status="success"
        title={t("pub.submitted")}
        subTitle={t("pub.submittedHint")}
        data-testid="public-submitted"
        extra={
          <Button
            onClick={() => {
              setValues(initial());
              setDone(false);
            }}
            data-testid="public-again"
          >
            {t("pub.again")}
          </Button>
        }
      />
    );

  async function submit(sent: Set<string>, current: Values) {
    setBusy(true);
    setErrors({});
    try {
      await publicLink.fill(token, password, recordBody(described.fields, current, sent));
      setDone(true);
    } catch (e) {
      if (e instanceof ApiError && [404, 410, 429].includes(e.status)) onRefused(e);
      else if (e instanceof ApiError) setErrors(e.issues.length ? issuesByField(e.issues, keys) : { "": [e.message] });
      else setErrors({ "": [t("errors.generic")] });
    } finally {
      setBusy(false);
    }
  }

  return (
    <UploadTargetContext.Provider value={{ kind: "public", token, password }}>
    <FormBody
      app={standIn(described)}
      live={live.data}
      fields={described.fields}
      values={values}
      errors={errors}
      // Functional updates: an upload finishing must not bring back the values of when it started.
      onChange={(key, value) => {
        setValues((current) => ({ ...current, [key]: value }));
        setErrors((current) => {
          if (!current[key]) return current;
          const { [key]: _fixed, ...rest } = current;
          return rest;
        });
      }}
      onSubmit={submit}
      isNew
      busy={busy}
      submitLabel={t("fill.submit")}
    />
    </UploadTargetContext.Provider>
  );
}

function QueryLink({ token, password, described, onRefused }: { token: string; password: string | null; described: PublicForm; onRefused(e: ApiError): void }) {
  const { t, i18n } = useTranslation();
  const keyFields = described.key_fields ?? [];
  const [keys, setKeys] = useState<Values>({});
  const [errors, setErrors] = useState<Record<string, string[]>>({});
  const [busy, setBusy] = useState(false);
  const [items, setItems] = useState<Values[] | null>(null);
  const app = standIn(described);

  async function search() {
    setBusy(true);
    setErrors({});
    const body: Values = {};
    for (const field of keyFields) body[field.key] = inputValue(field, keys[field.key]);
    try {
      setItems((await publicLink.query(token, password, body)).items);
    } catch (e) {
      setItems(null);
      if (e instanceof ApiError && [404, 410, 429].includes(e.status)) onRefused(e);
      else if (e instanceof ApiError) setErrors(e.issues.length ? issuesByField(e.issues, new Set(keyFields.map((f) => f.key))) : { "": [e.message] });
      else setErrors({ "": [t("errors.generic")] });
    } finally {
      setBusy(false);
    }
  }

  const column = (field: FieldDef) => ({
    key: field.key,
    dataIndex: field.key,
    title: fieldLabel(field, i18n.language),
    render: (value: unknown) => <FieldValue field={field} value={value} compact />,
  });
  return (
    <Space orientation="vertical" style={{ width: "100%" }}>
      <Form layout="vertical" onFinish={search} data-testid="public-query-form">
        {errors[""] && <Typography.Text type="danger">{errors[""].join("；")}</Typography.Text>}
        {keyFields.map((field) => (
          <Form.Item
            key={field.key}
            label={fieldLabel(field, i18n.language)}
            htmlFor={`field-input-${field.key}`}
            required
            validateStatus={errors[field.key] ? "error" : undefined}
            help={errors[field.key]?.join("；")}
            data-testid={`key-${field.key}`}
          >
            <FieldInput app={app} field={field} value={keys[field.key]} onChange={(v) => setKeys({ ...keys, [field.key]: v })} />
          </Form.Item>
        ))}
        <Button type="primary" htmlType="submit" loading={busy} data-testid="public-search">
          {t("pub.search")}
        </Button>
      </Form>
      {items !== null && (
        <Table<Values>
          rowKey={(_, index) => String(index)}
          size="small"
          scroll={{ x: "max-content" }}
          pagination={false}
          dataSource={items}
          columns={described.fields.map(column)}
          title={() => t("pub.results", { count: items.length })}
          locale={{ emptyText: t("pub.noResults") }}
          data-testid="public-results"
        />
      )}
    </Space>
  );
}

export default function PublicPage() {
  const { token = "" } = useParams();
  const { t, i18n } = useTranslation();
  const [password, setPassword] = useState<string | null>(null);
  const [refused, setRefused] = useState<ApiError | null>(null);
  const described = useQuery({
    queryKey: ["public", token, password, i18n.language],
    queryFn: () => publicLink.describe(token, password),
    retry: false,
    staleTime: Infinity,
  });
  const error = described.error instanceof ApiError ? described.error : null;
  const needsPassword = error?.status === 401;

  let body;
  if (refused) body = <Refusal error={refused} />;
  else if (described.isPending) body = <Spin />;
  else if (needsPassword)
    body = <PasswordPrompt error={error.code === "bad_link_password" ? error : null} onEnter={setPassword} />;
  else if (error) body = <Refusal error={error} />;
  else if (described.isError || !described.data) body = <Result status="error" title={t("errors.generic")} />;
  else {
    const data = described.data;
    body = (
      <Card title={data.name || labelText(data.form.name, i18n.language, data.form.key)} size="small" data-testid={`public-${data.kind}`}>
        {data.kind === "fill" ? (
          <FillLink token={token} password={password} described={data} onRefused={setRefused} />
        ) : (
          <QueryLink token={token} password={password} described={data} onRefused={setRefused} />
        )}
      </Card>
    );
  }
  return (
    <div className="jimu-public">
      <div className="jimu-public-header">
        <Typography.Text strong>{described.data ? labelText(described.data.app.name, i18n.language, described.data.app.key) : t("brand")}</Typography.Text>
        <LanguageSwitch />
      </div>
      {body}
    </div>
  );
}
