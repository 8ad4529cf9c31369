/**
 * 流程 · Flows: the app's approval flows (one per form) with their form and size; create a flow
 * for a form without one (bound to it through `form.flow` in the same publish), rename one,
 * delete one (its binding goes with it), or open it in the flow designer.
 */
import { ApartmentOutlined, DeleteOutlined, EditOutlined, PlusOutlined } from "@ant-design/icons";
import { useQueryClient } from "@tanstack/react-query";
import { App, Button, Card, Empty, Form, Input, List, Modal, Popconfirm, Result, Select, Space, Tag, Typography } from "antd";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { Link, useNavigate } from "react-router";
import { ApiError } from "../api/client";
import type { AppDef } from "../api/types";
import { useAuth } from "../auth/AuthContext";
import { publishDefinition, publishFlows } from "../flows/api";
import { boundForm, flowsOf, formsWithoutFlow, freshFlowKey, withNewFlow, withoutFlow } from "../flows/definition";
import { compile, emptyTree, type FlowDef } from "../flows/tree";
import { labelText } from "../forms/labels";
import { useApp } from "./appContext";

type Names = { zh: string; en: string };

export default function FlowsPage() {
  const { t, i18n } = useTranslation();
  const lang = i18n.language === "en" ? "en" : "zh";
  const { user } = useAuth();
  const { app } = useApp();
  const { message } = App.useApp();
  const client = useQueryClient();
  const navigate = useNavigate();
  const [creating, setCreating] = useState(false);
  const [renaming, setRenaming] = useState<FlowDef | null>(null);
  const [busy, setBusy] = useState(false);
  if (!user?.is_admin) return <Result status="403" title={t("errors.forbidden")} />;
  const flows = flowsOf(app);
  const formName = (key: string) => labelText(app.forms.find((f) => f.key === key)?.name, lang, key);

  /** Runs a publish; the answer replaces the cached app. A stale revision reloads the app. */
  const run = async (work: () => Promise<AppDef>): Promise<AppDef | null> => {
    setBusy(true);
    try {
      const saved = await work();
      client.setQueryData(["app", app.key], saved);
      return saved;
    } catch (error) {
      if (error instanceof ApiError && error.status === 409) {
        message.warning(t("flows.conflict"));
        await client.invalidateQueries({ queryKey: ["app", app.key] });
      } else {
        const issues = error instanceof ApiError ? error.issues.map((i) => i.message) : [];
        message.error(issues.length ? issues.join("；") : error instanceof Error ? error.message : t("errors.generic"));
      }
      return null;
    } finally {
      setBusy(false);
    }
  };

  const create = async (form: string, names: Names) => {
    const key = freshFlowKey(app, form);
    const { nodes, edges } = compile(emptyTree());
    const flow: FlowDef = { key, name: { zh: names.zh, en: names.en || names.zh }, form, nodes, edges };
    const saved = await run(() => publishDefinition(app, withNewFlow(app, flow)));
    if (saved) {
      setCreating(false);
      navigate(`/apps/${app.key}/_flows/${key}`);
    }
  };
  const rename = async (flow: FlowDef, names: Names) => {
    const name = { zh: names.zh, en: names.en || names.zh };
    const saved = await run(() => publishFlows(app, flows.map((f) => (f.key === flow.key ? { ...f, name } : f))));
    if (saved) setRenaming(null);
  };
  const remove = async (flow: FlowDef) => {
    if (await run(() => publishDefinition(app, withoutFlow(app, flow.key)))) message.success(t("flows.deleted"));
  };

  const free = formsWithoutFlow(app);
  return (
    <>
      <Space style={{ display: "flex", justifyContent: "space-between", marginBottom: 8 }} wrap>
        <Typography.Title level={3} style={{ margin: 0 }}>
          <ApartmentOutlined /> {t("flows.title")}
        </Typography.Title>
        <Button type="primary" icon={<PlusOutlined />} disabled={!free.length} title={free.length ? undefined : t("flows.noForms")} onClick={() => setCreating(true)} data-testid="flow-create">
          {t("flows.create")}
        </Button>
      </Space>
      <Typography.Paragraph type="secondary">{t("flows.intro")}</Typography.Paragraph>
      <Card size="small">
        {flows.length === 0 ? (
          <Empty description={t("flows.empty")} />
        ) : (
          <List
            dataSource={flows}
            rowKey="key"
            renderItem={(flow) => {
              const bound = boundForm(app, flow.key);
              return (
                <List.Item
                  data-testid={`flow-row-${flow.key}`}
                  actions={[
                    <Link key="design" to={`/apps/${app.key}/_flows/${flow.key}`} data-testid={`flow-design-${flow.key}`}>
                      {t("flows.design")}
                    </Link>,
                    <Button key="rename" type="link" size="small" icon={<EditOutlined />} onClick={() => setRenaming(flow)} data-testid={`flow-rename-${flow.key}`}>
                      {t("flows.rename")}
                    </Button>,
                    <Popconfirm
                      key="delete"
                      title={t("flows.confirmDelete", { name: labelText(flow.name, lang, flow.key) })}
                      onConfirm={() => remove(flow)}
                      okButtonProps={{ danger: true, "data-testid": "flow-delete-confirm" }}
                    >
                      <Button type="link" size="small" danger icon={<DeleteOutlined />} data-testid={`flow-delete-${flow.key}`}>
                        {t("flows.delete")}
                      </Button>
                    </Popconfirm>,
                  ]}
                >
                  <List.Item.Meta
                    title={<Link to={`/apps/${app.key}/_flows/${flow.key}`}>{labelText(flow.name, lang, flow.key)}</Link>}
                    description={
                      <Space wrap size={4}>
                        <Tag color={bound ? "blue" : undefined}>{bound ? t("flows.bound", { form: formName(bound) }) : t("flows.notBound")}</Tag>
                        {flow.nodes.length ? <Tag>{t("flows.steps", { count: flow.nodes.length })}</Tag> : <Tag>{t("flows.draft")}</Tag>}
                        <Typography.Text type="secondary" code>
                          {flow.key}
                        </Typography.Text>
                      </Space>
                    }
                  />
                </List.Item>
              );
            }}
          />
        )}
      </Card>
      {creating && <CreateModal app={app} busy={busy} onCancel={() => setCreating(false)} onCreate={create} />}
      {renaming && (
        <NamesModal
          title={t("flows.renameTitle")}
          initial={{ zh: labelText(renaming.name, "zh", ""), en: typeof renaming.name === "object" && renaming.name ? (renaming.name.en ?? "") : "" }}
          busy={busy}
          onCancel={() => setRenaming(null)}
          onOk={(names) => rename(renaming, names)}
        />
      )}
    </>
  );
}

function CreateModal({ app, busy, onCancel, onCreate }: { app: AppDef; busy: boolean; onCancel(): void; onCreate(form: string, names: Names): void }) {
  const { t, i18n } = useTranslation();
  const lang = i18n.language === "en" ? "en" : "zh";
  const free = formsWithoutFlow(app);
  const [form, setForm] = useState(free[0]?.key ?? "");
  const defaults = (key: string): Names => {
    const found = app.forms.find((f) => f.key === key);
    return { zh: t("flows.defaultName", { form: labelText(found?.name, "zh", key) }), en: t("flows.defaultNameEn", { form: labelText(found?.name, "en", key) }) };
  };
  const [names, setNames] = useState<Names>(defaults(form));
  return (
    <Modal
      open
      title={t("flows.createTitle")}
      okText={t("flows.create")}
      cancelText={t("fill.cancel")}
      confirmLoading={busy}
      onCancel={onCancel}
      onOk={() => names.zh.trim() && onCreate(form, { zh: names.zh.trim(), en: names.en.trim() })}
      okButtonProps={{ disabled: !form || !names.zh.trim(), "data-testid": "flow-create-ok" }}
    >
      <Form layout="vertical">
        <Form.Item label={t("flows.form")}>
          <Select
            value={form}
            options={free.map((f) => ({ value: f.key, label: labelText(f.name, lang, f.key) }))}
            onChange={(key: string) => {
              setForm(key);
              setNames(defaults(key));
            }}
            data-testid="flow-create-form"
          />
        </Form.Item>
        <NameInputs names={names} onChange={setNames} />
      </Form>
    </Modal>
  );
}

function NamesModal({ title, initial, busy, onCancel, onOk }: { title: string; initial: Names; busy: boolean; onCancel(): void; onOk(names: Names): void }) {
  const { t } = useTranslation();
  const [names, setNames] = useState(initial);
  return (
    <Modal
      open
      title={title}
      cancelText={t("fill.cancel")}
      confirmLoading={busy}
      onCancel={onCancel}
      onOk={() => names.zh.trim() && onOk({ zh: names.zh.trim(), en: names.en.trim() })}
      okButtonProps={{ disabled: !names.zh.trim(), "data-testid": "flow-rename-ok" }}
    >
      <Form layout="vertical">
        <NameInputs names={names} onChange={setNames} />
      </Form>
    </Modal>
  );
}

function NameInputs({ names, onChange }: { names: Names; onChange(names: Names): void }) {
  const { t } = useTranslation();
  return (
    <>
      <Form.Item label={t("flows.nameZh")} required validateStatus={names.zh.trim() ? undefined : "error"} help={names.zh.trim() ? undefined : t("flows.nameRule")}>
        <Input value={names.zh} onChange={(e) => onChange({ ...names, zh: e.target.value })} data-testid="flow-name-zh" />
      </Form.Item>
      <Form.Item label={t("flows.nameEn")}>
        <Input value={names.en} onChange={(e) => onChange({ ...names, en: e.target.value })} data-testid="flow-name-en" />
      </Form.Item>
    </>
  );
}
