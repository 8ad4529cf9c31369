/**
 * A form's public links (外链), for administrators and roles with the 外链 (`links`) action on
 * the form (members see the links they created or own): list them, create fill or query links
 * (fields, key fields, password, expiry), edit, enable/disable, delete and copy the address of
 * the public page (`/public/{token}`). Only fields the user may see (query) or edit (fill) are
 * offered; the server checks every change.
 */
import { ArrowLeftOutlined, PlusOutlined } from "@ant-design/icons";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { Alert, App, Button, Checkbox, DatePicker, Form, Input, Modal, Popconfirm, Radio, Result, Select, Space, Switch, Table, Tag, Typography } from "antd";
import dayjs, { type Dayjs } from "dayjs";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { useNavigate, useParams } from "react-router";
import { api, ApiError } from "../api/client";
import type { FieldDef, FormDef, Permissions } from "../api/types";
import { links, publicPageUrl, type LinkInput, type LinkKind, type PublicLink } from "../api/views";
import { fieldLabel, labelText } from "../forms/labels";
import { issuesByField } from "../forms/submit";
import { linkFieldChoices, linkKeyChoices, linkState, requiredForFill } from "../views/helpers";
import { findForm, useApp } from "./appContext";

const STATE_COLORS = { active: "green", disabled: "default", expired: "orange" } as const;

interface Draft {
  kind: LinkKind;
  name: string;
  fields: string[];
  key_fields: string[];
  password: string;
  removePassword: boolean;
  expires: Dayjs | null;
}

function LinkModal({
  app,
  form,
  link,
  rights,
  onClose,
}: {
  app: string;
  form: FormDef;
  link: PublicLink | "new";
  /** The signed-in user's field access: a link offers only what they may see (query) or edit (fill). */
  rights: Permissions["fields"];
  onClose(saved: boolean): void;
}) {
  const { t, i18n } = useTranslation();
  const { message } = App.useApp();
  const existing = link === "new" ? null : link;
  const [draft, setDraft] = useState<Draft>(() =>
    existing
      ? {
          kind: existing.kind,
          name: existing.name,
          fields: existing.fields,
          key_fields: existing.key_fields,
          password: "",
          removePassword: false,
          expires: existing.expires_at ? dayjs(existing.expires_at) : null,
        }
      : { kind: "fill", name: labelText(form.name, i18n.language, form.key), fields: requiredForFill(form.fields, rights), key_fields: [], password: "", removePassword: false, expires: null },
  );
  const [errors, setErrors] = useState<Record<string, string[]>>({});
  const [busy, setBusy] = useState(false);
  const set = (patch: Partial<Draft>) => setDraft({ ...draft, ...patch });
  const option = (f: FieldDef) => ({ value: f.key, label: fieldLabel(f, i18n.language) });
  const choices = linkFieldChoices(form.fields, draft.kind, rights);
  const help = (key: string) => (errors[key] ? { validateStatus: "error" as const, help: errors[key].join("；") } : {});

  async function save() {
    setBusy(true);
    setErrors({});
    const body: LinkInput = {
      name: draft.name.trim() || undefined,
      fields: draft.fields,
      expires_at: draft.expires ? draft.expires.toISOString() : null,
    };
    if (draft.kind === "query") body.key_fields = draft.key_fields;
    if (draft.password) body.password = draft.password;
    else if (draft.removePassword) body.password = null;
    try {
      if (existing) await links.update(app, form.key, existing.id, body);
      else await links.create(app, form.key, { ...body, kind: draft.kind });
      message.success(t("links.saved"));
      onClose(true);
    } catch (e) {
      if (e instanceof ApiError && e.issues.length) setErrors(issuesByField(e.issues, new Set(["name", "fields", "key_fields", "password", "expires_at", "kind"])));
      else setErrors({ "": [e instanceof ApiError ? e.message : t("errors.generic")] });
    } finally {
      setBusy(false);
    }
  }

  return (
    <Modal
      open
      title={existing ? t("links.editTitle") : t("links.newTitle")}
      onCancel={() => onClose(false)}
      footer={[
        <Button key="cancel" onClick={() => onClose(false)}>
          {t("fill.cancel")}
        </Button>,
        <Button key="save" type="primary" loading={busy} onClick={save} data-testid="link-save">
          {t("fill.save")}
        </Button>,
      ]}
      width={640}
      data-testid="link-modal"
    >
      {errors[""] && <Alert type="error" showIcon title={errors[""].join("；")} style={{ marginBottom: 12 }} />}
      <Form layout="vertical">
        <Form.Item label={t("links.kind")} {...help("kind")}>
          <Radio.Group
            value={draft.kind}
            disabled={!!existing}
            onChange={(e) => {
              const kind = e.target.value as LinkKind;
              setDraft({ ...draft, kind, fields: kind === "fill" ? requiredForFill(form.fields, rights) : [], key_fields: [] });
            }}
            data-testid="link-kind"
          >
            <Radio.Button value="fill">{t("links.fill")}</Radio.Button>
            <Radio.Button value="query">{t("links.query")}</Radio.Button>
          </Radio.Group>
        </Form.Item>
        <Form.Item label={t("links.name")} {...help("name")}>
          <Input value={draft.name} maxLength={200} onChange={(e) => set({ name: e.target.value })} data-testid="link-name" />
        </Form.Item>
        <Form.Item label={t("links.fields")} required {...help("fields")}>
          <Checkbox.Group
            value={draft.fields}
            onChange={(keys) => set({ fields: choices.map((f) => f.key).filter((k) => (keys as string[]).includes(k)) })}
            options={choices.map(option)}
            data-testid="link-fields"
          />
        </Form.Item>
        {draft.kind === "query" && (
          <Form.Item label={t("links.keyFields")} required {...help("key_fields")}>
            <Select
              mode="multiple"
              value={draft.key_fields}
              onChange={(keys) => set({ key_fields: keys })}
              options={linkKeyChoices(form.fields, rights).map(option)}
              data-testid="link-key-fields"
            />
          </Form.Item>
        )}
        <Form.Item label={t("links.password")} {...help("password")} extra={existing?.has_password ? t("links.passwordKeep") : t("links.passwordNone")}>
          <Space wrap>
            <Input.Password
              value={draft.password}
              autoComplete="new-password"
              disabled={draft.removePassword}
              onChange={(e) => set({ password: e.target.value })}
              data-testid="link-password"
            />
            {existing?.has_password && (
              <Checkbox checked={draft.removePassword} onChange={(e) => set({ removePassword: e.target.checked, password: "" })}>
                {t("links.passwordRemove")}
              </Checkbox>
            )}
          </Space>
        </Form.Item>
        <Form.Item label={t("links.expires")} {...help("expires_at")} extra={draft.expires ? undefined : t("links.never")}>
          <DatePicker showTime value={draft.expires} onChange={(value) => set({ expires: value })} data-testid="link-expires" />
        </Form.Item>
      </Form>
    </Modal>
  );
}

export default function LinksPage() {
  const { form: formKey } = useParams();
  const { app } = useApp();
  const { t, i18n } = useTranslation();
  const { message } = App.useApp();
  const navigate = useNavigate();
  const client = useQueryClient();
  const form = findForm(app, formKey);
  const [editing, setEditing] = useState<PublicLink | "new" | null>(null);
  const list = useQuery({ queryKey: ["links", app.key, formKey], queryFn: () => links.list(app.key, formKey!), enabled: !!form, retry: false });
  const permissions = useQuery({ queryKey: ["permissions", app.key, formKey], queryFn: () => api.permissions(app.key, formKey!), enabled: !!form });
  if (!form) return <Result status="404" title={t("errors.notFound")} />;
  if (list.error instanceof ApiError && (list.error.status === 403 || list.error.status === 404))
    return <Result status="403" title={t("errors.forbidden")} subTitle={list.error.message} />;
  const labels = new Map(form.fields.map((f) => [f.key, fieldLabel(f, i18n.language)]));
  const refresh = () => client.invalidateQueries({ queryKey: ["links", app.key, form.key] });

  async function change(link: PublicLink, body: LinkInput) {
    try {
      await links.update(app.key, form!.key, link.id, body);
      message.success(t("links.saved"));
    } catch (e) {
      message.error(e instanceof ApiError ? e.message : t("errors.generic"));
    }
    await refresh();
  }

  async function remove(link: PublicLink) {
    try {
      await links.remove(app.key, form!.key, link.id);
      message.success(t("links.deleted"));
    } catch (e) {
      message.error(e instanceof ApiError ? e.message : t("errors.generic"));
    }
    await refresh();
  }

  return (
    <>
      <Space wrap style={{ marginBottom: 12 }}>
        <Button icon={<ArrowLeftOutlined />} onClick={() => navigate(`/apps/${app.key}/${form.key}`)} data-testid="links-back">
          {t("links.back")}
        </Button>
        <Typography.Title level={4} style={{ margin: 0 }}>
          {t("links.title", { form: labelText(form.name, i18n.language, form.key) })}
        </Typography.Title>
        <Button type="primary" icon={<PlusOutlined />} onClick={() => setEditing("new")} data-testid="links-create">
          {t("links.create")}
        </Button>
      </Space>
      {list.isError && !(list.error instanceof ApiError && list.error.status < 500) && <Alert type="error" showIcon title={t("errors.generic")} />}
      <Table<PublicLink>
        rowKey="id"
        size="middle"
        scroll={{ x: "max-content" }}
        loading={list.isFetching}
        dataSource={list.data ?? []}
        pagination={false}
        locale={{ emptyText: t("links.empty") }}
        onRow={(link) => ({ "data-testid": `link-row-${link.id}` }) as React.HTMLAttributes<HTMLElement>}
        data-testid="links-table"
        columns={[
          { key: "name", title: t("links.name"), dataIndex: "name" },
          { key: "kind", title: t("links.kind"), render: (_, link) => <Tag color={link.kind === "fill" ? "blue" : "purple"}>{t(`links.${link.kind}`)}</Tag> },
          {
            key: "url",
            title: t("links.url"),
            render: (_, link) => (
              <Typography.Link href={publicPageUrl(link.token)} target="_blank" copyable={{ text: publicPageUrl(link.token), tooltips: [t("links.copy"), t("links.copied")] }} data-testid="link-url">
                {t("links.open")}
              </Typography.Link>
            ),
          },
          {
            key: "fields",
            title: t("links.fields"),
            render: (_, link) => (
              <Typography.Text style={{ maxWidth: 260 }} ellipsis={{ tooltip: true }}>
                {link.fields.map((k) => labels.get(k) ?? k).join("、")}
                {link.key_fields.length ? ` · ${t("links.keyFields").split(/[（(]/)[0]}: ${link.key_fields.map((k) => labels.get(k) ?? k).join("、")}` : ""}
              </Typography.Text>
            ),
          },
          {
            key: "state",
            title: t("links.state"),
            render: (_, link) => {
              const state = linkState(link);
              return (
                <Space size={4}>
                  <Tag color={STATE_COLORS[state]} data-testid="link-state">
                    {t(`links.${state}`)}
                  </Tag>
                  {link.has_password && <Tag>{t("links.passwordSet")}</Tag>}
                </Space>
              );
            },
          },
          { key: "expires", title: t("links.expires"), render: (_, link) => (link.expires_at ? dayjs(link.expires_at).format("YYYY-MM-DD HH:mm") : t("links.never")) },
          {
            key: "enabled",
            title: t("links.enabled"),
            render: (_, link) => <Switch size="small" checked={link.enabled} onChange={(enabled) => change(link, { enabled })} data-testid="link-enabled" />,
          },
          {
            key: "actions",
            title: "",
            render: (_, link) => (
              <Space>
                <Button size="small" onClick={() => setEditing(link)} data-testid="link-edit">
                  {t("links.edit")}
                </Button>
                <Popconfirm title={t("links.confirmDelete")} onConfirm={() => remove(link)}>
                  <Button size="small" danger data-testid="link-delete">
                    {t("links.delete")}
                  </Button>
                </Popconfirm>
              </Space>
            ),
          },
        ]}
      />
      {editing && (
        <LinkModal
          app={app.key}
          form={form}
          link={editing}
          rights={permissions.data?.fields ?? {}}
          onClose={(saved) => {
            setEditing(null);
            if (saved) void refresh();
          }}
        />
      )}
    </>
  );
}
