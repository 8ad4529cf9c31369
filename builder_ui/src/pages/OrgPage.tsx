/**
 * 通讯录 (`/admin/org`, platform administrators only; the engine answers 403 to anyone else):
 * the department tree on the left (add a sub-department, rename, move, set the head, delete),
 * the people of the selected department on the right (search, with or without sub-departments,
 * add, edit, deactivate/reactivate, reset a password), the Excel import, and a link to each
 * app's roles page. On a phone the tree sits above the list.
 */
import { DownloadOutlined, EllipsisOutlined, KeyOutlined, PlusOutlined, TeamOutlined, UploadOutlined } from "@ant-design/icons";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import {
  Alert,
  App,
  Button,
  Card,
  Col,
  Drawer,
  Dropdown,
  Empty,
  Form,
  Input,
  Modal,
  Popconfirm,
  Result,
  Row,
  Select,
  Space,
  Switch,
  Table,
  Tag,
  Tree,
  TreeSelect,
  Typography,
  Upload,
} from "antd";
import { useMemo, useState, type HTMLAttributes } from "react";
import { useTranslation } from "react-i18next";
import { Link } from "react-router";
import { ApiError, api } from "../api/client";
import { useAuth } from "../auth/AuthContext";
import { labelText } from "../forms/labels";
import { TEMPLATE_URL, org, uploadOrg, type ImportSummary, type OrgUser } from "../org/api";
import { departmentPath, moveTargets, orgTree, rowErrorLines, type OrgDepartment, type OrgTreeNode } from "../org/tree";

const TOP = 0; // the "top level" choice of the move picker

/** The server's refusal as one text: its issues' messages, else its message. */
function refusal(error: unknown): string {
  if (error instanceof ApiError) return error.issues.length ? error.issues.map((i) => i.message).join("\n") : error.message;
  return String(error);
}

export default function OrgPage() {
  const { t } = useTranslation();
  const { user } = useAuth();
  if (!user?.is_admin) return <Result status="403" title="403" subTitle={t("org.forbidden")} />;
  return <Organisation />;
}

type DeptDialog =
  | { kind: "new"; parent: number | null }
  | { kind: "rename"; department: OrgDepartment }
  | { kind: "move"; department: OrgDepartment }
  | { kind: "head"; department: OrgDepartment };

function Organisation() {
  const { t } = useTranslation();
  const client = useQueryClient();
  const { message, modal } = App.useApp();
  const [selected, setSelected] = useState<number | null>(null);
  const [children, setChildren] = useState(true);
  const [q, setQ] = useState("");
  const [dialog, setDialog] = useState<DeptDialog | null>(null);
  const [editing, setEditing] = useState<OrgUser | "new" | null>(null);
  const [resetting, setResetting] = useState<OrgUser | null>(null);
  const [importing, setImporting] = useState(false);
  const departments = useQuery({ queryKey: ["org", "departments"], queryFn: org.departments });
  const people = useQuery({
    queryKey: ["org", "users", selected, children, q],
    queryFn: () => org.users({ department: selected ?? undefined, children, q: q || undefined }),
  });
  const everyone = useQuery({ queryKey: ["org", "users", "all"], queryFn: () => org.users({}) });
  const listed = useMemo(() => departments.data ?? [], [departments.data]);
  const tree = useMemo(() => orgTree(listed), [listed]);
  const refresh = () => client.invalidateQueries({ queryKey: ["org"] });

  const remove = async (department: OrgDepartment) => {
    try {
      await org.deleteDepartment(department.id);
      message.success(t("org.deleted"));
      if (selected === department.id) setSelected(null);
      await refresh();
    } catch (error) {
      modal.error({ title: t("org.deleteConfirm", { name: department.name }), content: <div data-testid="org-refusal" style={{ whiteSpace: "pre-line" }}>{refusal(error)}</div> });
    }
  };

  const title = (node: OrgTreeNode) => {
    const department = listed.find((d) => d.id === node.key)!;
    return (
      <span className="jimu-org-node" data-testid={`dept-${node.title}`}>
        <span>{node.title}</span>
        {/* clicks in the menu (a portal) must not reach the tree and change the selection */}
        <span onClick={(e) => e.stopPropagation()}>
        <Dropdown
          trigger={["click"]}
          menu={{
            items: [
              { key: "child", label: t("org.addChild"), onClick: () => setDialog({ kind: "new", parent: node.key }) },
              { key: "rename", label: t("org.rename"), onClick: () => setDialog({ kind: "rename", department }) },
              { key: "move", label: t("org.move"), onClick: () => setDialog({ kind: "move", department }) },
              { key: "head", label: t("org.setHead"), onClick: () => setDialog({ kind: "head", department }) },
              {
                key: "delete",
                danger: true,
                label: t("org.delete"),
                onClick: () => modal.confirm({ title: t("org.deleteConfirm", { name: department.name }), okButtonProps: { danger: true }, onOk: () => remove(department) }),
              },
            ],
          }}
        >
          <Button
            type="text"
            size="small"
            aria-label={t("org.menu")}
            icon={<EllipsisOutlined />}
            data-testid={`dept-menu-${node.title}`}
          />
        </Dropdown>
        </span>
      </span>
    );
  };

  const headName = (department: OrgDepartment) => everyone.data?.users.find((u) => u.id === department.head_user_id)?.display_name;
  const current = listed.find((d) => d.id === selected);

  return (
    <div className="jimu-org" data-testid="org-page">
      <Space style={{ display: "flex", justifyContent: "space-between", flexWrap: "wrap" }}>
        <Typography.Title level={3} style={{ margin: 0 }}>
          <TeamOutlined /> {t("org.title")}
        </Typography.Title>
        <Space wrap>
          <Button icon={<UploadOutlined />} onClick={() => setImporting(true)} data-testid="org-import">
            {t("org.import.open")}
          </Button>
          <Button type="primary" icon={<PlusOutlined />} onClick={() => setEditing("new")} data-testid="org-add-user">
            {t("org.addUser")}
          </Button>
        </Space>
      </Space>
      <Typography.Paragraph type="secondary">{t("org.intro")}</Typography.Paragraph>
      <Row gutter={[16, 16]}>
        <Col xs={24} md={8} lg={7}>
          <Card
            size="small"
            title={t("org.departments")}
            extra={
              <Button size="small" icon={<PlusOutlined />} onClick={() => setDialog({ kind: "new", parent: null })} data-testid="org-add-root">
                {t("org.addRoot")}
              </Button>
            }
          >
            <Button type={selected === null ? "primary" : "text"} block style={{ textAlign: "left" }} onClick={() => setSelected(null)} data-testid="dept-all">
              {t("org.allPeople")}
            </Button>
            <Tree<OrgTreeNode>
              blockNode
              defaultExpandAll
              key={listed.length}
              treeData={tree}
              selectedKeys={selected === null ? [] : [selected]}
              onSelect={(_, info) => setSelected(Number(info.node.key))}
              titleRender={title}
              data-testid="org-tree"
            />
          </Card>
        </Col>
        <Col xs={24} md={16} lg={17}>
          <Card
            size="small"
            title={
              <span data-testid="org-current">
                {current ? departmentPath(listed, current.id) : t("org.allPeople")}
                {current && (
                  <Typography.Text type="secondary" style={{ fontWeight: "normal", marginLeft: 8 }}>
                    {t("org.head")}: {headName(current) ?? t("org.noHead")}
                  </Typography.Text>
                )}
              </span>
            }
          >
            <Space wrap style={{ marginBottom: 12 }}>
              <Input.Search allowClear placeholder={t("org.search")} onSearch={setQ} style={{ width: 260, maxWidth: "100%" }} data-testid="org-search" />
              {selected !== null && (
                <Space>
                  <Switch checked={children} onChange={setChildren} data-testid="org-children" />
                  {t("org.includeChildren")}
                </Space>
              )}
              <Typography.Text type="secondary">{t("org.count", { count: people.data?.total ?? 0 })}</Typography.Text>
            </Space>
            <PeopleTable users={people.data?.users ?? []} loading={people.isFetching} onEdit={setEditing} onReset={setResetting} onChanged={refresh} />
          </Card>
          <AppRoles />
        </Col>
      </Row>
      {dialog && <DepartmentDialog dialog={dialog} listed={listed} users={everyone.data?.users ?? []} onClose={() => setDialog(null)} onDone={refresh} />}
      {editing && (
        <UserDrawer
          user={editing === "new" ? null : editing}
          department={selected}
          listed={listed}
          users={everyone.data?.users ?? []}
          onClose={() => setEditing(null)}
          onDone={refresh}
        />
      )}
      {resetting && <ResetDialog user={resetting} onClose={() => setResetting(null)} />}
      {importing && <ImportDialog onClose={() => setImporting(false)} onDone={refresh} />}
    </div>
  );
}

function PeopleTable({
  users,
  loading,
  onEdit,
  onReset,
  onChanged,
}: {
  users: OrgUser[];
  loading: boolean;
  onEdit(user: OrgUser): void;
  onReset(user: OrgUser): void;
  onChanged(): Promise<unknown>;
}) {
  const { t, i18n } = useTranslation();
  const { message } = App.useApp();
  const toggle = async (user: OrgUser) => {
    try {
      await org.updateUser(user.id, { is_active: !user.is_active });
      message.success(user.is_active ? t("org.deactivated") : t("org.reactivated"));
      await onChanged();
    } catch (error) {
      message.error(refusal(error));
    }
  };
  return (
    <Table<OrgUser>
      rowKey="id"
      size="small"
      loading={loading}
      dataSource={users}
      pagination={{ pageSize: 50, hideOnSinglePage: true }}
      scroll={{ x: "max-content" }}
      locale={{ emptyText: <Empty description={t("org.empty")} /> }}
      onRow={(user) => ({ "data-testid": `org-user-${user.username}` }) as HTMLAttributes<HTMLElement>}
      columns={[
        {
          key: "name",
          title: t("org.name"),
          render: (_, user) => (
            <span>
              {user.display_name}
              <br />
              <Typography.Text type="secondary">{user.username}</Typography.Text>
            </span>
          ),
        },
        { key: "department", title: t("org.department"), dataIndex: "department_name" },
        { key: "manager", title: t("org.manager"), dataIndex: "manager_name" },
        { key: "phone", title: t("org.phone"), dataIndex: "phone" },
        {
          key: "roles",
          title: t("org.appRoles"),
          render: (_, user) => (
            <Space size={[0, 4]} wrap>
              {user.is_admin && <Tag color="gold">{t("org.admin")}</Tag>}
              {user.roles.map((role) => (
                <Tag key={role.id}>{labelText(role.name, i18n.language, role.key)}</Tag>
              ))}
            </Space>
          ),
        },
        {
          key: "status",
          title: t("org.status"),
          render: (_, user) => (
            <>
              {!user.is_active ? <Tag color="red">{t("org.inactive")}</Tag> : !user.can_sign_in ? <Tag>{t("org.noPassword")}</Tag> : <Tag color="green">{t("org.active")}</Tag>}
              {user.must_change_password && (
                <Tag color="orange" title={t("daily16.mustChangeHelp")} data-testid={`org-must-change-${user.username}`}>
                  {t("daily16.mustChange")}
                </Tag>
              )}
            </>
          ),
        },
        {
          key: "actions",
          title: t("org.actions"),
          render: (_, user) => (
            <Space size={0} wrap>
              <Button type="link" size="small" onClick={() => onEdit(user)} data-testid={`org-edit-${user.username}`}>
                {t("org.edit")}
              </Button>
              <Button type="link" size="small" icon={<KeyOutlined />} onClick={() => onReset(user)} data-testid={`org-reset-${user.username}`}>
                {t("org.resetPassword")}
              </Button>
              <Popconfirm
                title={user.is_active ? t("org.deactivateConfirm", { name: user.display_name }) : t("org.reactivateConfirm", { name: user.display_name })}
                okButtonProps={{ danger: user.is_active, ...({ "data-testid": "org-toggle-confirm" } as Record<string, string>) }}
                onConfirm={() => toggle(user)}
              >
                <Button type="link" size="small" danger={user.is_active} data-testid={`org-toggle-${user.username}`}>
                  {user.is_active ? t("org.deactivate") : t("org.reactivate")}
                </Button>
              </Popconfirm>
            </Space>
          ),
        },
      ]}
    />
  );
}

/** Each app's roles page (where members get their app roles). */
function AppRoles() {
  const { t, i18n } = useTranslation();
  const apps = useQuery({ queryKey: ["apps"], queryFn: api.apps });
  return (
    <Card size="small" title={t("org.appRolesLink")} style={{ marginTop: 16 }} data-testid="org-app-roles">
      <Typography.Paragraph type="secondary">{t("org.appRolesHelp")}</Typography.Paragraph>
      {apps.data && apps.data.length === 0 && <Typography.Text type="secondary">{t("org.noApps")}</Typography.Text>}
      <Space wrap>
        {(apps.data ?? []).map((app) => (
          <Link key={app.key} to={`/apps/${app.key}/_roles`} data-testid={`org-roles-${app.key}`}>
            <Button icon={<TeamOutlined />}>{labelText(app.name, i18n.language, app.key)}</Button>
          </Link>
        ))}
      </Space>
    </Card>
  );
}

function userOptions(users: OrgUser[], except?: number) {
  return users
    .filter((u) => u.id !== except)
    .map((u) => ({ value: u.id, label: `${u.display_name} (${u.username})` }));
}

function DepartmentDialog({
  dialog,
  listed,
  users,
  onClose,
  onDone,
}: {
  dialog: DeptDialog;
  listed: OrgDepartment[];
  users: OrgUser[];
  onClose(): void;
  onDone(): Promise<unknown>;
}) {
  const { t } = useTranslation();
  const { message } = App.useApp();
  const [form] = Form.useForm();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const department = dialog.kind === "new" ? null : dialog.department;
  const titles = {
    new: t("org.newDepartment"),
    rename: t("org.renameTitle"),
    move: t("org.moveTitle", { name: department?.name }),
    head: t("org.headTitle", { name: department?.name }),
  };
  const initial =
    dialog.kind === "rename"
      ? { name: dialog.department.name }
      : dialog.kind === "move"
        ? { parent: dialog.department.parent_id ?? TOP }
        : dialog.kind === "head"
          ? { head: dialog.department.head_user_id ?? undefined }
          : { parent: dialog.parent ?? TOP };
  const submit = async (values: { name?: string; parent?: number; head?: number | null }) => {
    setBusy(true);
    setError(null);
    try {
      if (dialog.kind === "new") await org.createDepartment({ name: values.name ?? "", parent_id: values.parent ? values.parent : null });
      else if (dialog.kind === "rename") await org.updateDepartment(dialog.department.id, { name: values.name });
      else if (dialog.kind === "move") await org.updateDepartment(dialog.department.id, { parent_id: values.parent ? values.parent : null });
      else await org.updateDepartment(dialog.department.id, { head_user_id: values.head ?? null });
      message.success(t("org.saved"));
      await onDone();
      onClose();
    } catch (failure) {
      setError(refusal(failure));
    } finally {
      setBusy(false);
    }
  };
  const top = { value: TOP, title: t("org.topLevel"), disabled: false, children: [] };
  const targets = dialog.kind === "move" ? [top, ...moveTargets(listed, dialog.department.id)] : [top, ...moveTargets(listed, -1)];
  return (
    <Modal
      open
      title={titles[dialog.kind]}
      onCancel={onClose}
      onOk={() => form.submit()}
      confirmLoading={busy}
      okText={t("org.save")}
      cancelText={t("org.cancel")}
      okButtonProps={{ "data-testid": "dept-dialog-ok" } as Record<string, string>}
      cancelButtonProps={{ "data-testid": "dept-dialog-cancel" } as Record<string, string>}
      destroyOnHidden
    >
      <Form form={form} layout="vertical" initialValues={initial} onFinish={submit}>
        {(dialog.kind === "new" || dialog.kind === "rename") && (
          <Form.Item name="name" label={t("org.deptName")} rules={[{ required: true, whitespace: true, max: 200 }]}>
            <Input autoFocus data-testid="dept-dialog-name" />
          </Form.Item>
        )}
        {(dialog.kind === "new" || dialog.kind === "move") && (
          <Form.Item name="parent" label={t("org.parent")}>
            <TreeSelect treeData={targets} treeDefaultExpandAll showSearch treeNodeFilterProp="title" data-testid="dept-dialog-parent" />
          </Form.Item>
        )}
        {dialog.kind === "head" && (
          <Form.Item name="head" label={t("org.head")}>
            <Select allowClear showSearch={{ optionFilterProp: "label" }} options={userOptions(users)} data-testid="dept-dialog-head" />
          </Form.Item>
        )}
      </Form>
      {error && <Alert type="error" showIcon title={<span style={{ whiteSpace: "pre-line" }}>{error}</span>} data-testid="dept-dialog-error" />}
    </Modal>
  );
}

const USER_FIELDS = ["display_name", "username", "password", "phone", "email", "department_id", "manager_id", "is_admin", "is_active"];

function UserDrawer({
  user,
  department,
  listed,
  users,
  onClose,
  onDone,
}: {
  user: OrgUser | null;
  department: number | null;
  listed: OrgDepartment[];
  users: OrgUser[];
  onClose(): void;
  onDone(): Promise<unknown>;
}) {
  const { t } = useTranslation();
  const { message } = App.useApp();
  const [form] = Form.useForm();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const departments = useMemo(() => moveTargets(listed, -1), [listed]);
  const initial = user
    ? { ...user }
    : { department_id: department ?? undefined, is_admin: false };
  const submit = async (values: Record<string, unknown>) => {
    setBusy(true);
    setError(null);
    const blank = (v: unknown) => (v === undefined || v === "" ? null : v);
    const body = {
      display_name: values.display_name as string,
      phone: blank(values.phone) as string | null,
      email: blank(values.email) as string | null,
      department_id: blank(values.department_id) as number | null,
      manager_id: blank(values.manager_id) as number | null,
      is_admin: Boolean(values.is_admin),
    };
    try {
      if (user) await org.updateUser(user.id, { ...body, username: values.username as string });
      else {
        const password = blank(values.password) as string | null;
        await org.createUser({ ...body, username: values.username as string, ...(password ? { password, must_change_password: true } : {}) });
      }
      message.success(t("org.saved"));
      await onDone();
      onClose();
    } catch (failure) {
      if (failure instanceof ApiError && failure.issues.some((i) => USER_FIELDS.includes(i.path))) {
        form.setFields(failure.issues.filter((i) => USER_FIELDS.includes(i.path)).map((i) => ({ name: i.path, errors: [i.message] })));
        const rest = failure.issues.filter((i) => !USER_FIELDS.includes(i.path));
        if (rest.length) setError(rest.map((i) => i.message).join("\n"));
      } else setError(refusal(failure));
    } finally {
      setBusy(false);
    }
  };
  return (
    <Drawer
      open
      size="default"
      styles={{ wrapper: { maxWidth: "100vw" } }}
      title={user ? t("org.editUser") : t("org.addUser")}
      onClose={onClose}
      rootClassName="jimu-org-drawer"
      extra={
        <Space>
          <Button onClick={onClose}>{t("org.cancel")}</Button>
          <Button type="primary" loading={busy} onClick={() => form.submit()} data-testid="user-save">
            {t("org.save")}
          </Button>
        </Space>
      }
    >
      <Form form={form} layout="vertical" initialValues={initial} onFinish={submit} data-testid="user-form">
        <Form.Item name="display_name" label={t("org.name")} rules={[{ required: true, whitespace: true, max: 200 }]}>
          <Input data-testid="user-display_name" />
        </Form.Item>
        <Form.Item name="username" label={t("org.username")} rules={[{ required: true, pattern: /^[A-Za-z0-9_.@-]{1,64}$/ }]}>
          <Input autoComplete="off" data-testid="user-username" />
        </Form.Item>
        {!user && (
          <Form.Item name="password" label={t("org.password")} extra={t("org.passwordHelp")}>
            <Input.Password autoComplete="new-password" data-testid="user-password" />
          </Form.Item>
        )}
        <Form.Item name="phone" label={t("org.phone")}>
          <Input inputMode="tel" data-testid="user-phone" />
        </Form.Item>
        <Form.Item name="email" label={t("org.email")} rules={[{ type: "email" }]}>
          <Input inputMode="email" data-testid="user-email" />
        </Form.Item>
        <Form.Item name="department_id" label={t("org.department")}>
          <TreeSelect allowClear treeData={departments} treeDefaultExpandAll showSearch treeNodeFilterProp="title" data-testid="user-department" />
        </Form.Item>
        <Form.Item name="manager_id" label={t("org.manager")}>
          <Select allowClear showSearch={{ optionFilterProp: "label" }} options={userOptions(users, user?.id)} data-testid="user-manager" />
        </Form.Item>
        <Form.Item name="is_admin" label={t("org.roles")} valuePropName="checked" extra={t("org.adminHelp")}>
          <Switch checkedChildren={t("org.admin")} unCheckedChildren={t("org.admin")} data-testid="user-is_admin" />
        </Form.Item>
        {user && (
          <Form.Item label={t("org.appRoles")}>
            <Space wrap>
              {user.roles.length === 0 ? t("org.noRoles") : user.roles.map((r) => <Tag key={r.id}>{labelText(r.name, "zh", r.key)}</Tag>)}
            </Space>
          </Form.Item>
        )}
      </Form>
      {error && <Alert type="error" showIcon title={<span style={{ whiteSpace: "pre-line" }}>{error}</span>} data-testid="user-error" />}
    </Drawer>
  );
}

function ResetDialog({ user, onClose }: { user: OrgUser; onClose(): void }) {
  const { t } = useTranslation();
  const { message } = App.useApp();
  const [password, setPassword] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [generated, setGenerated] = useState<string | null>(null);
  const submit = async () => {
    setBusy(true);
    setError(null);
    try {
      const result = await org.resetPassword(user.id, password || null);
      message.success(t("org.resetDone"));
      if (result.password) setGenerated(result.password);
      else onClose();
    } catch (failure) {
      setError(refusal(failure));
    } finally {
      setBusy(false);
    }
  };
  return (
    <Modal
      open
      title={t("org.resetTitle", { name: user.display_name })}
      onCancel={onClose}
      onOk={generated ? onClose : submit}
      confirmLoading={busy}
      okText={generated ? t("org.ok") : t("org.resetPassword")}
      cancelButtonProps={generated ? { style: { display: "none" } } : undefined}
      cancelText={t("org.cancel")}
      okButtonProps={{ "data-testid": "reset-ok" } as Record<string, string>}
    >
      {generated ? (
        <>
          <Typography.Paragraph strong>{t("org.generatedTitle")}</Typography.Paragraph>
          <Typography.Paragraph copyable={{ text: generated }} code style={{ fontSize: 18 }} data-testid="reset-generated">
            {generated}
          </Typography.Paragraph>
          <Typography.Paragraph type="secondary">{t("pw.generatedHelp", { name: user.display_name })}</Typography.Paragraph>
        </>
      ) : (
        <>
          <Typography.Paragraph type="secondary">{t("org.resetHelp")}</Typography.Paragraph>
          <Input.Password placeholder={t("org.newPassword")} value={password} onChange={(e) => setPassword(e.target.value)} autoComplete="new-password" data-testid="reset-password" />
          {error && <Alert style={{ marginTop: 12 }} type="error" showIcon title={error} data-testid="reset-error" />}
        </>
      )}
    </Modal>
  );
}

function ImportDialog({ onClose, onDone }: { onClose(): void; onDone(): Promise<unknown> }) {
  const { t, i18n } = useTranslation();
  const [file, setFile] = useState<File | null>(null);
  const [busy, setBusy] = useState(false);
  const [checked, setChecked] = useState<ImportSummary | null>(null);
  const [done, setDone] = useState<ImportSummary | null>(null);
  const [error, setError] = useState<string | null>(null);
  const run = async (dryRun: boolean) => {
    if (!file) return;
    setBusy(true);
    setError(null);
    try {
      const result = await uploadOrg(file, dryRun);
      if (dryRun) setChecked(result);
      else {
        setDone(result);
        await onDone();
      }
    } catch (failure) {
      setError(refusal(failure));
    } finally {
      setBusy(false);
    }
  };
  const lines = rowErrorLines(checked?.errors ?? [], i18n.language);
  return (
    <Modal
      open
      width={760}
      title={t("org.import.title")}
      onCancel={onClose}
      footer={
        done ? (
          <Button type="primary" onClick={onClose} data-testid="import-close">
            {t("org.import.close")}
          </Button>
        ) : (
          <Space wrap>
            <Button onClick={onClose}>{t("org.cancel")}</Button>
            <Button disabled={!file} loading={busy && !checked?.ok} onClick={() => run(true)} data-testid="import-check">
              {t("org.import.check")}
            </Button>
            <Button type="primary" disabled={!checked?.ok} loading={busy && !!checked?.ok} onClick={() => run(false)} data-testid="import-run">
              {t("org.import.run")}
            </Button>
          </Space>
        )
      }
    >
      <Typography.Paragraph>1. {t("org.import.step1")}</Typography.Paragraph>
      <Typography.Paragraph>
        <a href={TEMPLATE_URL} download="org-import.xlsx" data-testid="import-template">
          <DownloadOutlined /> {t("org.import.template")}
        </a>
      </Typography.Paragraph>
      <Typography.Paragraph>2. {t("org.import.step2")}</Typography.Paragraph>
      <Upload
        accept=".xlsx"
        maxCount={1}
        beforeUpload={(picked) => {
          setFile(picked);
          setChecked(null);
          setDone(null);
          return false;
        }}
        onRemove={() => {
          setFile(null);
          setChecked(null);
        }}
        fileList={file ? [{ uid: "1", name: file.name, status: "done" }] : []}
      >
        <Button icon={<UploadOutlined />} data-testid="import-pick">
          {t("org.import.pick")}
        </Button>
      </Upload>
      {error && <Alert style={{ marginTop: 12 }} type="error" showIcon title={error} data-testid="import-error" />}
      {checked && !checked.ok && !done && (
        <div style={{ marginTop: 12 }}>
          <Alert type="error" showIcon title={t("org.import.errors", { count: checked.errors.length })} />
          <Table
            size="small"
            rowKey="key"
            style={{ marginTop: 8 }}
            pagination={{ pageSize: 20, hideOnSinglePage: true }}
            scroll={{ x: "max-content" }}
            dataSource={lines}
            data-testid="import-errors"
            columns={[
              { key: "sheet", title: t("org.import.sheet"), dataIndex: "sheet" },
              { key: "row", title: t("org.import.row"), dataIndex: "row" },
              { key: "column", title: t("org.import.column"), dataIndex: "column" },
              { key: "message", title: t("org.import.message"), dataIndex: "message" },
            ]}
          />
        </div>
      )}
      {checked?.ok && !done && (
        <Alert style={{ marginTop: 12 }} type="success" showIcon title={t("org.import.ready", { departments: checked.departments, users: checked.users })} data-testid="import-ready" />
      )}
      {done && (
        <div style={{ marginTop: 12 }} data-testid="import-done">
          <Alert type="success" showIcon title={t("org.import.done", { departments: done.departments, users: done.users })} />
          {!!done.passwords?.length && (
            <>
              <Typography.Paragraph style={{ marginTop: 12 }}>{t("org.import.passwords")}</Typography.Paragraph>
              <Table
                size="small"
                rowKey="username"
                pagination={false}
                dataSource={done.passwords}
                columns={[
                  { key: "username", title: t("org.username"), dataIndex: "username" },
                  { key: "password", title: t("org.newPassword"), dataIndex: "password", render: (value: string) => <Typography.Text code copyable>{value}</Typography.Text> },
                ]}
              />
            </>
          )}
        </div>
      )}
    </Modal>
  );
}
