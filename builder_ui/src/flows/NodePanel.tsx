/**
 * The panels of the flow designer's drawer: a task node's settings (name, assignees, mode with
 * pass ratio, what a rejection does, per-field access, deadline; a copy node: name and
 * assignees), a choice branch's condition (the formula editor over the flow's form), and the
 * flow's own settings (names, description, admin). Each panel lists the server's issues about
 * what it edits.
 */
import { DeleteOutlined, PlusOutlined } from "@ant-design/icons";
import { Alert, Button, Divider, Form, Input, InputNumber, Radio, Select, Space, Switch, Table, Typography } from "antd";
import type { TFunction } from "i18next";
import { useTranslation } from "react-i18next";
import type { AppDef, FieldDef, Label } from "../api/types";
import FormulaEditor from "../designer/props/FormulaEditor";
import { setLabel } from "../designer/state";
import { traitsOf } from "../forms/fieldTypes";
import { labelText } from "../forms/labels";
import AssigneeUser from "./AssigneeUser";
import type { RoleDef } from "./definition";
import type { EdgeProps, FlowDef, FlowNodeDef } from "./tree";

export type Assignee = { user: string } | { role: string } | { dept_head: number } | { manager: number } | { field: string };
export type AssigneeKind = "user" | "role" | "dept_head" | "manager" | "field";
export const ASSIGNEE_KINDS: AssigneeKind[] = ["role", "user", "dept_head", "manager", "field"];

export const kindOf = (entry: Assignee): AssigneeKind => Object.keys(entry)[0] as AssigneeKind;

/** The fields of the form that hold members (user / users). */
export const memberFields = (fields: FieldDef[]): FieldDef[] => fields.filter((f) => traitsOf(f.type)?.refers_to === "user");

/** The fields whose access a node sets (the form's, without layout-only sections). */
const accessFields = (fields: FieldDef[]): FieldDef[] => fields.filter((f) => f.type !== "section");

export interface FlowLookups {
  roles: RoleDef[];
  fields: FieldDef[];
  lang: "zh" | "en";
}

/** One assignee entry as a card or a summary shows it. */
export function assigneeText(entry: Assignee, { roles, fields, lang }: FlowLookups, t: TFunction): string {
  if ("user" in entry) return entry.user;
  if ("role" in entry) return labelText(roles.find((r) => r.key === entry.role)?.name, lang, entry.role);
  if ("dept_head" in entry) return t("flows.deptHead", { n: entry.dept_head });
  if ("manager" in entry) return t("flows.manager", { n: entry.manager });
  return labelText(fields.find((f) => f.key === entry.field)?.label, lang, entry.field);
}

const blankOf = (kind: AssigneeKind, roles: RoleDef[], fields: FieldDef[]): Assignee => {
  if (kind === "user") return { user: "" };
  if (kind === "role") return { role: roles[0]?.key ?? "" };
  if (kind === "dept_head") return { dept_head: 1 };
  if (kind === "manager") return { manager: 1 };
  return { field: memberFields(fields)[0]?.key ?? "" };
};

function Issues({ messages }: { messages: string[] }) {
  if (!messages.length) return null;
  return (
    <Alert
      type="error"
      showIcon
      style={{ marginBottom: 12 }}
      title={
        <div data-testid="flow-panel-issues">
          {messages.map((m, i) => (
            <div key={i}>{m}</div>
          ))}
        </div>
      }
    />
  );
}

function NameInputs({ value, onChange, zh, en, testId }: { value: Label | undefined; onChange(label: Label | undefined): void; zh: string; en: string; testId: string }) {
  const text = (lang: "zh" | "en") => (typeof value === "string" ? (lang === "zh" ? value : "") : ((value ?? {})[lang] ?? ""));
  const set = (lang: "zh" | "en", next: string) => {
    const label = setLabel(value ?? null, lang, next) as { zh?: string | null; en?: string | null };
    onChange(label.zh || label.en ? label : undefined);
  };
  return (
    <>
      <Form.Item label={zh}>
        <Input value={text("zh")} onChange={(e) => set("zh", e.target.value)} data-testid={`${testId}-zh`} />
      </Form.Item>
      <Form.Item label={en}>
        <Input value={text("en")} onChange={(e) => set("en", e.target.value)} data-testid={`${testId}-en`} />
      </Form.Item>
    </>
  );
}

export function AssigneesEditor({ value, onChange, lookups }: { value: Assignee[]; onChange(next: Assignee[]): void; lookups: FlowLookups }) {
  const { t } = useTranslation();
  const { roles, fields, lang } = lookups;
  const members = memberFields(fields);
  const set = (i: number, entry: Assignee) => onChange(value.map((e, j) => (j === i ? entry : e)));
  return (
    <div data-testid="flow-assignees">
      {value.map((entry, i) => {
        const kind = kindOf(entry);
        return (
          <div key={i} style={{ display: "flex", gap: 6, marginBottom: 6, alignItems: "center", flexWrap: "wrap" }} data-testid={`flow-assignee-${i}`}>
            <Select
              style={{ width: 150 }}
              value={kind}
              options={ASSIGNEE_KINDS.map((k) => ({ value: k, label: t(`flows.kinds.${k}`) }))}
              onChange={(k: AssigneeKind) => set(i, blankOf(k, roles, fields))}
              data-testid={`flow-assignee-${i}-kind`}
            />
            <div style={{ flex: 1, minWidth: 150 }}>
              {"user" in entry && <AssigneeUser username={entry.user} onChange={(user) => set(i, { user })} pickerKey={`flow_assignee_${i}`} />}
              {"role" in entry && (
                <Select
                  style={{ width: "100%" }}
                  value={entry.role || undefined}
                  placeholder={t("flows.pickRole")}
                  options={roles.map((r) => ({ value: r.key, label: labelText(r.name, lang, r.key) }))}
                  onChange={(role: string) => set(i, { role })}
                  data-testid={`flow-assignee-${i}-role`}
                />
              )}
              {("dept_head" in entry || "manager" in entry) && (
                <Space>
                  <Typography.Text type="secondary">{t("flows.level")}</Typography.Text>
                  <InputNumber
                    min={1}
                    max={20}
                    precision={0}
                    value={"dept_head" in entry ? entry.dept_head : entry.manager}
                    onChange={(n) => set(i, "dept_head" in entry ? { dept_head: Number(n ?? 1) } : { manager: Number(n ?? 1) })}
                    data-testid={`flow-assignee-${i}-level`}
                  />
                </Space>
              )}
              {"field" in entry &&
                (members.length ? (
                  <Select
                    style={{ width: "100%" }}
                    value={entry.field || undefined}
                    placeholder={t("flows.pickField")}
                    options={members.map((f) => ({ value: f.key, label: labelText(f.label, lang, f.key) }))}
                    onChange={(field: string) => set(i, { field })}
                    data-testid={`flow-assignee-${i}-field`}
                  />
                ) : (
                  <Typography.Text type="secondary">{t("flows.noMemberFields")}</Typography.Text>
                ))}
            </div>
            <Button type="text" icon={<DeleteOutlined />} aria-label={t("flows.removeNode")} onClick={() => onChange(value.filter((_, j) => j !== i))} data-testid={`flow-assignee-${i}-remove`} />
            {("dept_head" in entry || "manager" in entry) && (
              <Typography.Text type="secondary" style={{ fontSize: 12, width: "100%" }}>
                {t("dept_head" in entry ? "flows.deptHeadHint" : "flows.managerHint")}
              </Typography.Text>
            )}
          </div>
        );
      })}
      <Button size="small" icon={<PlusOutlined />} onClick={() => onChange([...value, blankOf("role", roles, fields)])} data-testid="flow-assignee-add">
        {t("flows.addAssignee")}
      </Button>
    </div>
  );
}

const DEADLINE = /^P(?:(\d+)D|T(\d+)H)$/;

export function NodePanel({ node, lookups, issues, onPatch }: { node: FlowNodeDef; lookups: FlowLookups; issues: string[]; onPatch(change: Record<string, unknown>): void }) {
  const { t } = useTranslation();
  const { fields, lang } = lookups;
  const assignees = (Array.isArray(node.assignees) ? node.assignees : []) as Assignee[];
  const isApprove = node.type === "approve";
  const isCc = node.type === "cc";
  const mode = (typeof node.mode === "string" ? node.mode : "any") as "any" | "all" | "sequential";
  const access = (node.fields ?? {}) as Record<string, string>;
  const deadline = node.deadline as { after?: string; then?: string } | undefined;
  const parsed = deadline?.after ? DEADLINE.exec(deadline.after) : null;
  const amount = parsed ? Number(parsed[1] ?? parsed[2]) : 2;
  const unit: "D" | "H" = parsed?.[2] ? "H" : "D";
  const setDeadline = (n: number, u: "D" | "H", then: string) => onPatch({ deadline: { after: u === "D" ? `P${n}D` : `PT${n}H`, then } });
  const setAccess = (key: string, value: string) => {
    const next = { ...access };
    if (value === "read_only") delete next[key];
    else next[key] = value;
    onPatch({ fields: Object.keys(next).length ? next : undefined });
  };
  return (
    <Form layout="vertical" data-testid="flow-node-panel">
      <Issues messages={issues} />
      <NameInputs value={node.name} onChange={(name) => onPatch({ name })} zh={t("flows.nodeName")} en={t("flows.nodeNameEn")} testId="flow-node-name" />
      <Form.Item label={isCc ? t("flows.ccAssignees") : t("flows.assignees")} required help={assignees.length ? undefined : t("flows.noAssignees")} validateStatus={assignees.length ? undefined : "warning"}>
        <AssigneesEditor value={assignees} onChange={(next) => onPatch({ assignees: next })} lookups={lookups} />
      </Form.Item>
      {!isCc && (
        <Form.Item label={t("flows.mode")}>
          <Radio.Group
            value={mode}
            onChange={(e) => onPatch({ mode: e.target.value === "any" ? undefined : e.target.value, pass_ratio: undefined })}
            data-testid="flow-mode"
            style={{ display: "flex", flexDirection: "column", gap: 4 }}
          >
            {(isApprove ? (["any", "all", "sequential"] as const) : (["any", "all"] as const)).map((m) => (
              <Radio key={m} value={m} data-testid={`flow-mode-${m}`}>
                {isApprove ? t(`flows.modes.${m}`) : t(`flows.handleModes.${m as "any" | "all"}`)}
              </Radio>
            ))}
          </Radio.Group>
        </Form.Item>
      )}
      {isApprove && mode === "all" && (
        <Form.Item label={t("flows.passRatio")} extra={t("flows.passRatioHint")}>
          <InputNumber
            min={1}
            max={100}
            precision={0}
            value={typeof node.pass_ratio === "number" ? Math.round(node.pass_ratio * 100) : null}
            onChange={(n) => onPatch({ pass_ratio: n === null || n === undefined ? undefined : Number(n) / 100 })}
            data-testid="flow-pass-ratio"
          />
        </Form.Item>
      )}
      {isApprove && (
        <Form.Item label={t("flows.onReject")}>
          <Radio.Group value={node.on_reject === "initiator" ? "initiator" : "end"} onChange={(e) => onPatch({ on_reject: e.target.value === "end" ? undefined : e.target.value })} data-testid="flow-on-reject">
            <Radio value="end" data-testid="flow-on-reject-end">
              {t("flows.onRejects.end")}
            </Radio>
            <Radio value="initiator" data-testid="flow-on-reject-initiator">
              {t("flows.onRejects.initiator")}
            </Radio>
          </Radio.Group>
        </Form.Item>
      )}
      {!isCc && (
        <>
          <Form.Item label={t("flows.deadline")}>
            <Space wrap>
              <Switch checked={!!deadline} onChange={(on) => (on ? setDeadline(2, "D", "remind") : onPatch({ deadline: undefined }))} data-testid="flow-deadline" />
              {deadline && (
                <>
                  <span>{t("flows.deadlineAfter")}</span>
                  <InputNumber min={1} max={999} precision={0} value={amount} onChange={(n) => setDeadline(Number(n ?? 1), unit, deadline.then ?? "remind")} style={{ width: 72 }} data-testid="flow-deadline-after" />
                  <Select value={unit} style={{ width: 84 }} options={(["D", "H"] as const).map((u) => ({ value: u, label: t(`flows.units.${u}`) }))} onChange={(u: "D" | "H") => setDeadline(amount, u, deadline.then ?? "remind")} data-testid="flow-deadline-unit" />
                  <span>{t("flows.deadlineThen")}</span>
                  <Select
                    value={deadline.then ?? "remind"}
                    style={{ width: 150 }}
                    options={(["remind", "auto_approve", "auto_reject", "escalate"] as const).map((v) => ({ value: v, label: t(`flows.thens.${v}`) }))}
                    onChange={(then: string) => setDeadline(amount, unit, then)}
                    data-testid="flow-deadline-then"
                  />
                </>
              )}
            </Space>
            {deadline?.after && !parsed && (
              <Typography.Text type="secondary" style={{ display: "block", fontSize: 12 }}>
                {t("flows.deadlineRaw", { value: deadline.after })}
              </Typography.Text>
            )}
          </Form.Item>
          <Divider plain style={{ margin: "8px 0" }}>
            {t("flows.fields")}
          </Divider>
          <Typography.Text type="secondary" style={{ fontSize: 12 }}>
            {t("flows.fieldsHint")}
          </Typography.Text>
          <Table
            size="small"
            pagination={false}
            rowKey="key"
            dataSource={accessFields(fields)}
            data-testid="flow-access"
            columns={[
              { title: t("flows.field"), key: "label", render: (_: unknown, f: FieldDef) => labelText(f.label, lang, f.key) },
              {
                title: t("flows.fields"),
                key: "access",
                render: (_: unknown, f: FieldDef) => (
                  <Radio.Group size="small" optionType="button" value={access[f.key] === "read" ? "read_only" : (access[f.key] ?? "read_only")} onChange={(e) => setAccess(f.key, e.target.value)}>
                    {(["hidden", "read_only", "edit"] as const).map((v) => (
                      <Radio key={v} value={v} data-testid={`flow-access-${f.key}-${v}`}>
                        {t(`flows.access.${v}`)}
                      </Radio>
                    ))}
                  </Radio.Group>
                ),
              },
            ]}
          />
        </>
      )}
    </Form>
  );
}

export function BranchPanel({ edge, app, form, fields, issues, onPatch }: { edge: EdgeProps; app: AppDef; form: string; fields: FieldDef[]; issues: string[]; onPatch(change: Partial<EdgeProps>): void }) {
  const { t } = useTranslation();
  return (
    <Form layout="vertical" data-testid="flow-branch-panel">
      <Issues messages={issues} />
      {edge.default ? (
        <Typography.Paragraph>{t("flows.defaultHint")}</Typography.Paragraph>
      ) : (
        <Form.Item label={t("flows.when")}>
          <FormulaEditor
            value={typeof edge.when === "string" ? edge.when : ""}
            onChange={(when) => onPatch({ when: when.trim() ? when : undefined })}
            testId="flow-branch-when"
            context={{ app, formKey: form, formFields: fields }}
            placeholder={t("flows.whenPlaceholder")}
            rows={3}
          />
        </Form.Item>
      )}
    </Form>
  );
}

export type FlowMeta = Pick<FlowDef, "name" | "description" | "admin">;

export function SettingsPanel({ meta, lookups, issues, onChange }: { meta: FlowMeta; lookups: FlowLookups; issues: string[]; onChange(meta: FlowMeta): void }) {
  const { t } = useTranslation();
  const { roles, lang } = lookups;
  const admin = meta.admin ?? null;
  const kind = admin ? ("user" in admin ? "user" : "role") : "none";
  return (
    <Form layout="vertical" data-testid="flow-settings-panel">
      <Issues messages={issues} />
      <NameInputs value={meta.name} onChange={(name) => onChange({ ...meta, name: name ?? "" })} zh={t("flows.nameZh")} en={t("flows.nameEn")} testId="flow-settings-name" />
      <NameInputs value={meta.description} onChange={(description) => onChange({ ...meta, description })} zh={t("flows.description")} en={t("flows.descriptionEn")} testId="flow-settings-description" />
      <Form.Item label={t("flows.admin")} extra={t("flows.adminHint")}>
        <Radio.Group
          value={kind}
          onChange={(e) => onChange({ ...meta, admin: e.target.value === "none" ? undefined : e.target.value === "user" ? { user: "" } : { role: roles[0]?.key ?? "" } })}
          data-testid="flow-settings-admin"
        >
          {(["none", "user", "role"] as const).map((k) => (
            <Radio key={k} value={k} data-testid={`flow-settings-admin-${k}`}>
              {t(`flows.adminKinds.${k}`)}
            </Radio>
          ))}
        </Radio.Group>
        <div style={{ marginTop: 8 }}>
          {admin && "user" in admin && <AssigneeUser username={admin.user} onChange={(user) => onChange({ ...meta, admin: { user } })} pickerKey="flow_admin" />}
          {admin && "role" in admin && (
            <Select
              style={{ width: "100%" }}
              value={admin.role || undefined}
              placeholder={t("flows.pickRole")}
              options={roles.map((r) => ({ value: r.key, label: labelText(r.name, lang, r.key) }))}
              onChange={(role: string) => onChange({ ...meta, admin: { role } })}
              data-testid="flow-settings-admin-role"
            />
          )}
        </div>
      </Form.Item>
    </Form>
  );
}
