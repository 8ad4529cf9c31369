/**
 * 角色与权限 · Roles & permissions (administrators): an app's roles, what each may do per form
 * (actions, data scope, hidden and read-only fields) and who holds each role (users or whole
 * departments). Role definitions are part of the app, so saving publishes the app; members are
 * data and change at once. The engine enforces all of it; this page only edits it.
 */
import { DeleteOutlined, PlusOutlined, TeamOutlined, UserOutlined } from "@ant-design/icons";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { Alert, App, Button, Card, Checkbox, Col, Collapse, Empty, Form, Input, List, Popconfirm, Result, Row, Segmented, Select, Space, Tag, Typography } from "antd";
import { useMemo, useState } from "react";
import { useTranslation } from "react-i18next";
import { Link } from "react-router";
import { ACTIONS, admin, type FieldAccess, type RoleDef, type ScopeName } from "../api/admin";
import { api, ApiError } from "../api/client";
import type { AppDef, Issue } from "../api/types";
import { useAuth } from "../auth/AuthContext";
import KeyNameDialog from "../components/KeyNameDialog";
import { LAYOUT_TYPES } from "../forms/fieldTypes";
import { labelText } from "../forms/labels";
import { useApp } from "./appContext";
import { addRole, changeRole, issueRole, permissionOf, removeRole, setActions, setFieldAccess, setScope } from "./roles";

type AppWithRoles = AppDef & { roles?: RoleDef[] };
const SCOPES: ScopeName[] = ["all", "own", "department", "department_tree"];

export default function RolesPage() {
  const { user } = useAuth();
  const { app } = useApp();
  const { t } = useTranslation();
  if (!user?.is_admin) return <Result status="403" title={t("errors.forbidden")} />;
  return <RolesEditor key={`${app.key}/${app._revision}`} app={app as AppWithRoles} />;
}

function RolesEditor({ app }: { app: AppWithRoles }) {
  const { t, i18n } = useTranslation();
  const lang = i18n.language;
  const { message } = App.useApp();
  const client = useQueryClient();
  const [roles, setRoles] = useState<RoleDef[]>(app.roles ?? []);
  const [selected, setSelected] = useState<string | null>(app.roles?.[0]?.key ?? null);
  const [issues, setIssues] = useState<Issue[]>([]);
  const [busy, setBusy] = useState(false);
  const [adding, setAdding] = useState(false);
  const dirty = useMemo(() => JSON.stringify(roles) !== JSON.stringify(app.roles ?? []), [roles, app.roles]);
  const role = roles.find((r) => r.key === selected);

  const save = async () => {
    setBusy(true);
    setIssues([]);
    const definition = { ...app, roles } as AppDef;
    try {
      const plan = await api.plan(app.key, definition);
      const saved = await api.publish(app.key, definition, plan.plan_hash);
      client.setQueryData(["app", app.key], { ...saved, plan: undefined });
      await client.invalidateQueries({ queryKey: ["admin-roles", app.key] });
      await client.invalidateQueries({ queryKey: ["permissions", app.key] });
      message.success(t("roles.saved"));
    } catch (error) {
      if (error instanceof ApiError && error.status === 409) {
        message.warning(t("designer.conflict"));
        await client.invalidateQueries({ queryKey: ["app", app.key] });
      } else if (error instanceof ApiError && error.issues.length) {
        setIssues(error.issues);
        const about = issueRole(error.issues[0].path, roles);
        if (about) setSelected(about);
        message.error(t("designer.fix"));
      } else message.error(error instanceof Error ? error.message : t("errors.generic"));
    } finally {
      setBusy(false);
    }
  };

  const roleIssues = role ? issues.filter((i) => issueRole(i.path, roles) === role.key) : [];
  return (
    <>
      <Space style={{ display: "flex", justifyContent: "space-between", marginBottom: 12 }} wrap>
        <Typography.Title level={3} style={{ margin: 0 }}>
          {t("roles.title")} · {labelText(app.name, lang, app.key)}
        </Typography.Title>
        <Space>
          <Link to={`/apps/${app.key}`}>{t("roles.back")}</Link>
          <Button type="primary" loading={busy} disabled={!dirty} onClick={save} data-testid="roles-save">
            {t("roles.save")}
          </Button>
        </Space>
      </Space>
      {issues.filter((i) => !issueRole(i.path, roles)).map((i) => (
        <Alert key={i.path + i.code} type="error" showIcon title={`${i.path}: ${i.message}`} style={{ marginBottom: 8 }} />
      ))}
      <Row gutter={[16, 16]}>
        <Col xs={24} md={7}>
          <Card
            size="small"
            title={t("roles.list")}
            extra={
              <Button size="small" icon={<PlusOutlined />} onClick={() => setAdding(true)} data-testid="role-new">
                {t("roles.new")}
              </Button>
            }
          >
            {roles.length === 0 ? (
              <Empty description={t("roles.none")} />
            ) : (
              <List
                size="small"
                dataSource={roles}
                rowKey="key"
                renderItem={(r) => (
                  <List.Item
                    onClick={() => setSelected(r.key)}
                    data-testid={`role-item-${r.key}`}
                    style={{ cursor: "pointer", paddingInline: 8, background: r.key === selected ? "#e6f4ff" : undefined }}
                  >
                    <Space>
                      <span>{labelText(r.name, lang, r.key)}</span>
                      <Typography.Text type="secondary" style={{ fontSize: 12 }}>{r.key}</Typography.Text>
                      {issues.some((i) => issueRole(i.path, roles) === r.key) && <Tag color="error">!</Tag>}
                    </Space>
                  </List.Item>
                )}
              />
            )}
          </Card>
        </Col>
        <Col xs={24} md={17}>
          {!role ? (
            <Card size="small">
              <Typography.Text type="secondary">{t("roles.select")}</Typography.Text>
            </Card>
          ) : (
            <Space orientation="vertical" style={{ width: "100%" }} size={16}>
              {roleIssues.map((i) => (
                <Alert key={i.path + i.code} type="error" showIcon title={`${i.path.replace(/^roles\[\d+\]\.?/, "")}: ${i.message}`} />
              ))}
              <RoleHeader role={role} onChange={(change) => setRoles(changeRole(roles, role.key, change))} onRemove={() => { setRoles(removeRole(roles, role.key)); setSelected(null); }} />
              <Members app={app} role={role} published={(app.roles ?? []).some((r) => r.key === role.key)} />
              <Collapse
                key={role.key}
                items={app.forms.map((form) => {
                  const permission = permissionOf(role, form.key);
                  const scope = permission.scope ?? "all";
                  const isExpr = typeof scope === "object";
                  return {
                    key: form.key,
                    label: (
                      <Space wrap>
                        <span>{labelText(form.name, lang, form.key)}</span>
                        {permission.actions.map((a) => <Tag key={a}>{t(`roles.action.${a}`)}</Tag>)}
                      </Space>
                    ),
                    children: (
                      <Form layout="vertical" size="small">
                        <Form.Item label={t("roles.actions")}>
                          <Checkbox.Group
                            value={permission.actions}
                            onChange={(actions) => setRoles(setActions(roles, role.key, form.key, actions))}
                            options={ACTIONS.map((a) => ({ value: a, label: <span data-testid={`perm-${form.key}-action-${a}`}>{t(`roles.action.${a}`)}</span> }))}
                          />
                        </Form.Item>
                        {permission.actions.length > 0 && (
                          <>
                            <Form.Item label={t("roles.scope")}>
                              <Select
                                style={{ maxWidth: 320 }}
                                value={isExpr ? "expr" : scope}
                                onChange={(v: string) => setRoles(setScope(roles, role.key, form.key, v === "expr" ? { expr: "TRUE" } : (v as ScopeName)))}
                                options={[...SCOPES, "expr"].map((s) => ({ value: s, label: t(`roles.scopes.${s}`) }))}
                                data-testid={`perm-${form.key}-scope`}
                              />
                            </Form.Item>
                            {isExpr && (
                              <Form.Item label={t("roles.condition")} extra={t("roles.conditionHint")}>
                                <Input
                                  value={scope.expr}
                                  onChange={(e) => setRoles(setScope(roles, role.key, form.key, { expr: e.target.value }))}
                                  data-testid={`perm-${form.key}-expr`}
                                />
                              </Form.Item>
                            )}
                            <Form.Item label={t("roles.fields")}>
                              <List
                                size="small"
                                dataSource={form.fields.filter((f) => !LAYOUT_TYPES.has(f.type))}
                                rowKey="key"
                                renderItem={(field) => (
                                  <List.Item
                                    extra={
                                      <Segmented<FieldAccess>
                                        size="small"
                                        value={permission.fields?.[field.key] ?? "editable"}
                                        onChange={(access) => setRoles(setFieldAccess(roles, role.key, form.key, field.key, access))}
                                        options={(["editable", "read_only", "hidden"] as FieldAccess[]).map((a) => ({ value: a, label: t(`roles.access.${a}`) }))}
                                        data-testid={`perm-${form.key}-field-${field.key}`}
                                      />
                                    }
                                  >
                                    {labelText(field.label, lang, field.key)}
                                  </List.Item>
                                )}
                              />
                            </Form.Item>
                          </>
                        )}
                      </Form>
                    ),
                  };
                })}
                data-testid="role-forms"
              />
            </Space>
          )}
        </Col>
      </Row>
      <NewRole
        open={adding}
        taken={new Set(roles.map((r) => r.key))}
        onClose={() => setAdding(false)}
        onCreate={(key, name) => {
          setRoles(addRole(roles, key, name));
          setSelected(key);
          setAdding(false);
        }}
      />
    </>
  );
}

function RoleHeader({ role, onChange, onRemove }: { role: RoleDef; onChange: (change: Partial<RoleDef>) => void; onRemove: () => void }) {
  const { t } = useTranslation();
  const name = typeof role.name === "string" ? { zh: role.name } : (role.name ?? {});
  return (
    <Card
      size="small"
      title={role.key}
      extra={
        <Popconfirm title={t("roles.removeConfirm")} onConfirm={onRemove} okButtonProps={{ "data-testid": "role-remove-confirm" } as Record<string, string>}>
          <Button size="small" danger icon={<DeleteOutlined />} data-testid="role-remove">{t("roles.remove")}</Button>
        </Popconfirm>
      }
    >
      <Row gutter={12}>
        <Col xs={24} sm={12}>
          <Form.Item label={t("newApp.nameZh")} layout="vertical">
            <Input value={name.zh ?? ""} onChange={(e) => onChange({ name: { ...name, zh: e.target.value } })} data-testid="role-name-zh" />
          </Form.Item>
        </Col>
        <Col xs={24} sm={12}>
          <Form.Item label={t("newApp.nameEn")} layout="vertical">
            <Input value={name.en ?? ""} onChange={(e) => onChange({ name: { ...name, en: e.target.value } })} data-testid="role-name-en" />
          </Form.Item>
        </Col>
      </Row>
      <Checkbox checked={!!role.builder} onChange={(e) => onChange({ builder: e.target.checked })} data-testid="role-builder">
        {t("roles.builder")}
      </Checkbox>
    </Card>
  );
}

/** Who holds the role: users and departments, added and removed at once (they are data, not definition). */
function Members({ app, role, published }: { app: AppDef; role: RoleDef; published: boolean }) {
  const { t } = useTranslation();
  const { message } = App.useApp();
  const client = useQueryClient();
  const stored = useQuery({ queryKey: ["admin-roles", app.key], queryFn: () => admin.roles(app.key) });
  const users = useQuery({ queryKey: ["admin-users"], queryFn: admin.users, staleTime: 60_000 });
  const departments = useQuery({ queryKey: ["admin-departments"], queryFn: admin.departments, staleTime: 60_000 });
  const row = stored.data?.find((r) => r.key === role.key);
  const userName = new Map((users.data ?? []).map((u) => [u.id, u.display_name || u.username]));
  const deptName = new Map((departments.data ?? []).map((d) => [d.id, d.name]));
  const refresh = () => client.invalidateQueries({ queryKey: ["admin-roles", app.key] });
  const run = async (work: () => Promise<unknown>) => {
    try {
      await work();
      await refresh();
      await client.invalidateQueries({ queryKey: ["permissions", app.key] });
    } catch (error) {
      message.error(error instanceof ApiError ? (error.issues[0]?.message ?? error.message) : t("errors.generic"));
    }
  };
  return (
    <Card size="small" title={t("roles.members")}>
      {stored.isError ? (
        <Alert type="error" showIcon title={stored.error instanceof Error ? stored.error.message : t("errors.generic")} />
      ) : !published || !row ? (
        <Typography.Text type="secondary">{t("roles.saveFirst")}</Typography.Text>
      ) : (
        <Space orientation="vertical" style={{ width: "100%" }}>
          <Space wrap data-testid="role-members">
            {row.members.length === 0 && <Typography.Text type="secondary">{t("roles.noMembers")}</Typography.Text>}
            {row.members.map((m) => (
              <Tag
                key={m.id}
                icon={m.user_id ? <UserOutlined /> : <TeamOutlined />}
                closable
                onClose={(e) => {
                  e.preventDefault();
                  void run(() => admin.removeMember(row.id, m.id));
                }}
                data-testid={`role-member-${m.id}`}
              >
                {m.user_id ? (userName.get(m.user_id) ?? `#${m.user_id}`) : (deptName.get(m.department_id!) ?? `#${m.department_id}`)}
              </Tag>
            ))}
          </Space>
          <Space wrap>
            <Select
              showSearch={{ optionFilterProp: "label" }}
              style={{ minWidth: 200 }}
              placeholder={t("roles.addUser")}
              value={null}
              options={(users.data ?? []).filter((u) => !row.members.some((m) => m.user_id === u.id)).map((u) => ({ value: u.id, label: `${u.display_name || u.username} (${u.username})` }))}
              onChange={(id: number) => void run(() => admin.addMember(row.id, { user_id: id }))}
              data-testid="role-add-user"
            />
            <Select
              showSearch={{ optionFilterProp: "label" }}
              style={{ minWidth: 200 }}
              placeholder={t("roles.addDepartment")}
              value={null}
              options={(departments.data ?? []).filter((d) => !row.members.some((m) => m.department_id === d.id)).map((d) => ({ value: d.id, label: d.name }))}
              onChange={(id: number) => void run(() => admin.addMember(row.id, { department_id: id }))}
              data-testid="role-add-department"
            />
          </Space>
        </Space>
      )}
    </Card>
  );
}

function NewRole({ open, taken, onClose, onCreate }: { open: boolean; taken: Set<string>; onClose: () => void; onCreate: (key: string, name: { zh: string; en: string }) => void }) {
  const { t } = useTranslation();
  return (
    <KeyNameDialog
      open={open}
      title={t("roles.new")}
      okText={t("roles.add")}
      keyLabel={t("roles.key")}
      testId="role-new"
      taken={taken}
      onCancel={onClose}
      onSubmit={(v) => onCreate(v.key, { zh: v.zh, en: v.en })}
    />
  );
}
