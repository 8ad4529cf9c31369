/**
 * One action of a rule in the designer: a card with its type, ↑/↓ and remove, and the settings
 * of its type — a target form and field mapping (create, upsert with its match pairs), the
 * records to act on (the triggering record, a relation's records, or a form's records that
 * match) for update/delete, the strategy of assign_owner (members or a role, or a mapping
 * table from a field's options to members), the recipients, title and body of notify, and the
 * flow of start_flow. Server issues at `rules[i].actions[j].…` show at their control.
 */
import { ArrowDownOutlined, ArrowUpOutlined, DeleteOutlined, PlusOutlined } from "@ant-design/icons";
import { Button, Card, Form, Input, Radio, Select, Space, Switch, Typography } from "antd";
import { useTranslation } from "react-i18next";
import type { AppDef, FieldDef, FormDef, Label } from "../api/types";
import FormulaEditor from "../designer/props/FormulaEditor";
import AssigneeUser from "../flows/AssigneeUser";
import { rolesOf } from "../flows/definition";
import { fieldLabel, labelText, optionLabel } from "../forms/labels";
import { actionForm, flowsFor, messagesAt, sameRelation, targetKind, type RuleActionDef, type RuleDef, type RuleTarget } from "./definition";
import { contextOf, MappingEditor, MatchEditor } from "./MappingEditor";

interface Props {
  app: AppDef;
  rule: RuleDef;
  action: RuleActionDef;
  index: number;
  count: number;
  onChange(action: RuleActionDef): void;
  onMove(delta: -1 | 1): void;
  onRemove(): void;
  /** Server issues by control (see `issueControl`); this action's are under `actions.<index>`. */
  issueMap: Map<string, string[]>;
}

/** The controls each action type shows issues at (anything else is listed under the action). */
const SHOWN: Record<string, string[]> = {
  create_record: ["form", "values"],
  update_records: ["target", "values"],
  upsert_record: ["form", "match", "values"],
  delete_records: ["target"],
  assign_owner: ["strategy", "users", "role", "field", "map", "default", "open_filter", "set_field"],
  notify: ["to", "title", "body"],
  start_flow: ["flow"],
};

const help = (messages: string[]) => (messages.length ? { validateStatus: "error" as const, help: messages.join("；") } : {});

export default function ActionPanel({ app, rule, action, index, count, onChange, onMove, onRemove, issueMap }: Props) {
  const { t, i18n } = useTranslation();
  const lang = i18n.language;
  const testId = `rule-action-${index}`;
  const source = app.forms.find((f) => f.key === rule.form);
  const targetKey = actionForm(action, rule, app);
  const target = app.forms.find((f) => f.key === targetKey);
  const set = (patch: Partial<RuleActionDef>) => onChange({ ...action, ...patch });
  const prefix = `actions.${index}`;
  const issues = (control: string, deep = false): string[] => messagesAt(issueMap, control ? `${prefix}.${control}` : prefix, deep);
  const all = issues("", true);
  const shown = new Set(SHOWN[action.type] ?? []);
  // what no control of this action shows: the action's own issues and those of settings not on screen
  const own = [...issueMap].flatMap(([key, messages]) => {
    if (key === prefix) return messages;
    if (!key.startsWith(`${prefix}.`)) return [];
    const [control, field] = key.slice(prefix.length + 1).split(".");
    if (control === "values") return shown.has("values") && field && field in (action.values ?? {}) ? [] : messages;
    return shown.has(control) ? [] : messages;
  });
  const formOptions = app.forms.map((f) => ({ value: f.key, label: labelText(f.name, lang, f.key) }));

  return (
    <Card
      size="small"
      style={{ marginBottom: 12, borderColor: all.length ? "#ff4d4f" : undefined }}
      title={
        <Space wrap>
          <Typography.Text type="secondary">{index + 1}.</Typography.Text>
          <span data-testid={`${testId}-type`}>{t(`rules.actionTypes.${action.type}`, { defaultValue: action.type })}</span>
        </Space>
      }
      extra={
        <Space size={0}>
          <Button type="text" size="small" icon={<ArrowUpOutlined />} disabled={index === 0} onClick={() => onMove(-1)} aria-label={t("rules.moveUp")} data-testid={`${testId}-up`} />
          <Button type="text" size="small" icon={<ArrowDownOutlined />} disabled={index === count - 1} onClick={() => onMove(1)} aria-label={t("rules.moveDown")} data-testid={`${testId}-down`} />
          <Button type="text" size="small" danger icon={<DeleteOutlined />} onClick={onRemove} aria-label={t("rules.removeAction")} data-testid={`${testId}-remove`} />
        </Space>
      }
      data-testid={testId}
    >
      <Typography.Paragraph type="secondary" style={{ marginTop: -4 }}>
        {t(`rules.actionHelp.${action.type}`, { defaultValue: "" })}
      </Typography.Paragraph>
      <Form layout="vertical">
        {(action.type === "create_record" || action.type === "upsert_record") && (
          <Form.Item label={t("rules.targetForm")} required {...help(issues("form"))}>
            <Select
              value={action.form || null}
              placeholder={t("rules.formPlaceholder")}
              options={formOptions}
              onChange={(form: string) => set({ form, values: {}, ...(action.type === "upsert_record" ? { match: {} } : {}) })}
              data-testid={`${testId}-form`}
            />
          </Form.Item>
        )}
        {action.type === "upsert_record" && target && (
          <MatchEditor app={app} source={source} target={target} match={action.match ?? {}} onChange={(match) => set({ match })} testId={`${testId}-match`} messages={issues("match", true)} />
        )}
        {(action.type === "update_records" || action.type === "delete_records") && (
          <TargetEditor
            app={app}
            source={source}
            target={action.target}
            onChange={(next) => set({ target: next, ...(action.type === "update_records" && !sameRelation(action.target, next) ? { values: {} } : {}) })}
            messages={issues("target", true)}
            testId={testId}
            oldAllowed={action.type === "update_records"}
          />
        )}
        {(action.type === "create_record" || action.type === "update_records" || action.type === "upsert_record") && target && (
          <Form.Item label={t("rules.mapping")} {...help(issues("values"))}>
            <MappingEditor app={app} source={source} target={target} values={action.values ?? {}} onChange={(values) => set({ values })} issues={(field) => issues(`values.${field}`)} testId={testId} />
          </Form.Item>
        )}
        {action.type === "assign_owner" && <AssignOwner app={app} source={source} action={action} set={set} replace={onChange} issues={issues} testId={testId} />}
        {action.type === "notify" && <Notify app={app} source={source} action={action} set={set} replace={onChange} issues={issues} testId={testId} />}
        {action.type === "start_flow" && (
          <Form.Item label={t("rules.startFlow")} required {...help(issues("flow"))}>
            <Select
              value={typeof action.flow === "string" && action.flow ? action.flow : null}
              placeholder={flowsFor(app, rule.form).length ? undefined : t("rules.noFlows")}
              options={flowsFor(app, rule.form).map((f) => ({ value: f.key, label: labelText(f.name, lang, f.key) }))}
              onChange={(flow: string) => set({ flow })}
              data-testid={`${testId}-flow`}
            />
          </Form.Item>
        )}
      </Form>
      {own.map((m, i) => (
        <Typography.Text key={i} type="danger" style={{ display: "block" }} data-testid={`${testId}-issue`}>
          {m}
        </Typography.Text>
      ))}
    </Card>
  );
}

function TargetEditor({ app, source, target, onChange, messages, testId, oldAllowed = false }: { app: AppDef; source: FormDef | undefined; target: RuleTarget | undefined; onChange(target: RuleTarget): void; messages: string[]; testId: string; oldAllowed?: boolean }) {
  const { t, i18n } = useTranslation();
  const lang = i18n.language;
  const kind = targetKind(target);
  const relations = (source?.fields ?? []).filter((f) => f.type === "relation");
  const formTarget = typeof target === "object" && "form" in target ? target : undefined;
  const targetForm = app.forms.find((f) => f.key === formTarget?.form);
  return (
    <>
      <Form.Item label={t("rules.target")} required {...help(messages)}>
        <Radio.Group
          value={kind}
          onChange={(e) => onChange(e.target.value === "self" ? "self" : e.target.value === "relation" ? { relation: relations[0]?.key ?? "" } : { form: "", match: {} })}
          data-testid={`${testId}-target`}
        >
          <Space orientation="vertical">
            {(["self", "relation", "form"] as const).map((k) => (
              <Radio key={k} value={k} data-testid={`${testId}-target-${k}`}>
                {t(`rules.targets.${k}`)}
              </Radio>
            ))}
          </Space>
        </Radio.Group>
      </Form.Item>
      {kind === "relation" && typeof target === "object" && "relation" in target && (
        <Form.Item label={t("rules.relationField")} required>
          <Select
            value={target.relation || null}
            options={relations.map((f) => ({ value: f.key, label: `${fieldLabel(f, lang)} → ${labelText(app.forms.find((g) => g.key === f.target)?.name, lang, f.target ?? "")}` }))}
            onChange={(relation: string) => onChange(target.include_old ? { relation, include_old: true } : { relation })}
            data-testid={`${testId}-relation`}
          />
        </Form.Item>
      )}
      {kind === "relation" && typeof target === "object" && "relation" in target && oldAllowed && (
        <Form.Item label={t("ruleTargets.includeOld")} extra={t("ruleTargets.includeOldHelp")}>
          <Switch
            checked={target.include_old === true}
            onChange={(on) => onChange(on ? { relation: target.relation, include_old: true } : { relation: target.relation })}
            data-testid={`${testId}-include-old`}
          />
        </Form.Item>
      )}
      {kind === "form" && formTarget && (
        <>
          <Form.Item label={t("rules.targetForm")} required>
            <Select
              value={formTarget.form || null}
              placeholder={t("rules.formPlaceholder")}
              options={app.forms.map((f) => ({ value: f.key, label: labelText(f.name, lang, f.key) }))}
              onChange={(form: string) => onChange({ form, match: {} })}
              data-testid={`${testId}-target-form`}
            />
          </Form.Item>
          {targetForm && (
            <>
              <MatchEditor app={app} source={source} target={targetForm} match={formTarget.match ?? {}} onChange={(match) => onChange({ ...formTarget, match })} testId={`${testId}-target-match`} />
              <Form.Item label={t("rules.targetFilter")}>
                <FormulaEditor
                  value={formTarget.filter ?? ""}
                  onChange={(filter) => onChange(filter.trim() ? { ...formTarget, filter } : { form: formTarget.form, match: formTarget.match ?? {} })}
                  testId={`${testId}-target-filter`}
                  context={contextOf(app, targetForm)}
                />
              </Form.Item>
            </>
          )}
        </>
      )}
    </>
  );
}

interface SettingsProps {
  app: AppDef;
  source: FormDef | undefined;
  action: RuleActionDef;
  set(patch: Partial<RuleActionDef>): void;
  replace(action: RuleActionDef): void;
  issues(control: string, deep?: boolean): string[];
  testId: string;
}

/** A list of usernames, each picked from the member directory. */
function UserList({ users, onChange, testId }: { users: string[]; onChange(users: string[]): void; testId: string }) {
  const { t } = useTranslation();
  return (
    <div data-testid={testId}>
      {users.map((u, i) => (
        <Space key={i} style={{ display: "flex", marginBottom: 4 }} data-testid={`${testId}-${i}`}>
          <div style={{ width: 240 }}>
            <AssigneeUser username={u} pickerKey={`${testId}-${i}`} onChange={(name) => onChange(users.map((x, j) => (j === i ? name : x)))} />
          </div>
          <Button size="small" type="text" danger icon={<DeleteOutlined />} aria-label={t("rules.removeRow")} onClick={() => onChange(users.filter((_, j) => j !== i))} />
        </Space>
      ))}
      <Button size="small" icon={<PlusOutlined />} onClick={() => onChange([...users, ""])} data-testid={`${testId}-add`}>
        {t("rules.addUser")}
      </Button>
    </div>
  );
}

const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : []);

function AssignOwner({ app, source, action, set, replace, issues, testId }: SettingsProps) {
  const { t, i18n } = useTranslation();
  const lang = i18n.language;
  const strategy = typeof action.strategy === "string" ? action.strategy : "round_robin";
  const byRole = typeof action.role === "string";
  const roles = rolesOf(app);
  const mapFields = (source?.fields ?? []).filter((f) => f.type === "select" || f.type === "radio");
  const mapField: FieldDef | undefined = mapFields.find((f) => f.key === action.field);
  const map = (typeof action.map === "object" && action.map !== null ? action.map : {}) as Record<string, string>;
  const userFields = (source?.fields ?? []).filter((f) => f.type === "user");
  return (
    <>
      <Form.Item label={t("rules.strategy")} required {...help(issues("strategy"))}>
        <Radio.Group
          value={strategy}
          onChange={(e) => {
            const base: RuleActionDef = { type: action.type, strategy: e.target.value, notify: action.notify !== false, ...(action.set_field ? { set_field: action.set_field } : {}) };
            replace(e.target.value === "mapping" ? { ...base, field: "", map: {} } : { ...base, users: [] });
          }}
          data-testid={`${testId}-strategy`}
        >
          {(["round_robin", "least_open", "mapping"] as const).map((s) => (
            <Radio key={s} value={s} data-testid={`${testId}-strategy-${s}`}>
              {t(`rules.strategies.${s}`)}
            </Radio>
          ))}
        </Radio.Group>
      </Form.Item>
      {strategy !== "mapping" ? (
        <>
          <Form.Item label={t("rules.candidates")}>
            <Radio.Group
              value={byRole ? "role" : "users"}
              onChange={(e) => {
                const rest = { ...action };
                delete rest.users;
                delete rest.role;
                replace(e.target.value === "role" ? { ...rest, role: roles[0]?.key ?? "" } : { ...rest, users: [] });
              }} data-testid={`${testId}-candidates`}>
              <Radio value="users">{t("rules.candidatesUsers")}</Radio>
              <Radio value="role" data-testid={`${testId}-candidates-role`}>
                {t("rules.candidatesRole")}
              </Radio>
            </Radio.Group>
          </Form.Item>
          {byRole ? (
            <Form.Item label={t("rules.role")} required {...help(issues("role"))}>
              <Select value={(action.role as string) || null} options={roles.map((r) => ({ value: r.key, label: labelText(r.name as Label, lang, r.key) }))} onChange={(role: string) => set({ role })} data-testid={`${testId}-role`} />
            </Form.Item>
          ) : (
            <Form.Item label={t("rules.users")} required {...help(issues("users", true))}>
              <UserList users={strings(action.users)} onChange={(users) => set({ users })} testId={`${testId}-users`} />
            </Form.Item>
          )}
        </>
      ) : (
        <>
          <Form.Item label={t("rules.mapField")} required {...help(issues("field"))}>
            <Select value={mapField?.key ?? null} options={mapFields.map((f) => ({ value: f.key, label: fieldLabel(f, lang) }))} onChange={(field: string) => set({ field, map: {} })} data-testid={`${testId}-map-field`} />
          </Form.Item>
          {mapField && (
            <Form.Item label={t("rules.mapTable")} {...help(issues("map", true))}>
              {(mapField.options ?? []).map((o) => (
                <Space key={o.value} style={{ display: "flex", marginBottom: 4 }} data-testid={`${testId}-map-${o.value}`}>
                  <span style={{ display: "inline-block", width: 120 }}>{optionLabel(mapField.options, o.value, lang)}</span>
                  <div style={{ width: 220 }}>
                    <AssigneeUser
                      username={map[o.value] ?? ""}
                      pickerKey={`${testId}-map-${o.value}`}
                      onChange={(name) => {
                        const next = { ...map };
                        if (name) next[o.value] = name;
                        else delete next[o.value];
                        set({ map: next });
                      }}
                    />
                  </div>
                </Space>
              ))}
            </Form.Item>
          )}
          <Form.Item label={t("rules.mapDefault")} {...help(issues("default"))}>
            <div style={{ width: 220 }}>
              <AssigneeUser username={typeof action.default === "string" ? action.default : ""} pickerKey={`${testId}-default`} onChange={(name) => {
                const rest = { ...action };
                delete rest.default;
                replace(name ? { ...rest, default: name } : rest);
              }} />
            </div>
          </Form.Item>
        </>
      )}
      {strategy === "least_open" && (
        <Form.Item label={t("rules.openFilter")} extra={t("rules.openFilterHelp")} {...help(issues("open_filter"))}>
          <FormulaEditor
            value={typeof action.open_filter === "string" ? action.open_filter : ""}
            onChange={(value) => {
              const rest = { ...action };
              delete rest.open_filter;
              replace(value.trim() ? { ...rest, open_filter: value } : rest);
            }}
            testId={`${testId}-open-filter`}
            context={contextOf(app, source)}
          />
        </Form.Item>
      )}
      <Form.Item label={t("ruleTargets.setField")} extra={t("ruleTargets.setFieldHelp")} {...help(issues("set_field"))}>
        <Select
          value={typeof action.set_field === "string" ? action.set_field : ""}
          options={[{ value: "", label: t("ruleTargets.setFieldNone") }, ...userFields.map((f) => ({ value: f.key, label: fieldLabel(f, lang) }))]}
          onChange={(value: string) => {
            const rest = { ...action };
            delete rest.set_field;
            replace(value ? { ...rest, set_field: value } : rest);
          }}
          data-testid={`${testId}-set-field`}
        />
      </Form.Item>
      <Form.Item label={t("rules.notifyOwner")}>
        <Switch checked={action.notify !== false} onChange={(notify) => set({ notify })} data-testid={`${testId}-notify`} />
      </Form.Item>
    </>
  );
}

type Recipient = { user: string } | { role: string } | { field: string } | { owner: true } | { actor: true };
const RECIPIENT_TYPES = ["user", "role", "field", "owner", "actor"] as const;
const recipientType = (r: Recipient): (typeof RECIPIENT_TYPES)[number] => (RECIPIENT_TYPES.find((k) => k in r) ?? "owner") as (typeof RECIPIENT_TYPES)[number];

function Notify({ app, source, action, set, issues, testId }: Omit<SettingsProps, "replace"> & { replace?: unknown }) {
  const { t, i18n } = useTranslation();
  const lang = i18n.language;
  const to = (Array.isArray(action.to) ? action.to : []) as Recipient[];
  const roles = rolesOf(app);
  const userFields = (source?.fields ?? []).filter((f) => f.type === "user" || f.type === "users");
  const setTo = (next: Recipient[]) => set({ to: next });
  const fresh = (kind: (typeof RECIPIENT_TYPES)[number]): Recipient =>
    kind === "user" ? { user: "" } : kind === "role" ? { role: roles[0]?.key ?? "" } : kind === "field" ? { field: userFields[0]?.key ?? "" } : kind === "owner" ? { owner: true } : { actor: true };
  return (
    <>
      <Form.Item label={t("rules.recipients")} required {...help(issues("to", true))}>
        {to.map((r, i) => {
          const kind = recipientType(r);
          return (
            <Space key={i} wrap style={{ display: "flex", marginBottom: 4 }} data-testid={`${testId}-to-${i}`}>
              <Select
                style={{ width: 180 }}
                value={kind}
                options={RECIPIENT_TYPES.map((k) => ({ value: k, label: t(`rules.recipientTypes.${k}`) }))}
                onChange={(k: (typeof RECIPIENT_TYPES)[number]) => setTo(to.map((x, j) => (j === i ? fresh(k) : x)))}
                data-testid={`${testId}-to-${i}-type`}
              />
              {"user" in r && (
                <div style={{ width: 220 }}>
                  <AssigneeUser username={r.user} pickerKey={`${testId}-to-${i}`} onChange={(user) => setTo(to.map((x, j) => (j === i ? { user } : x)))} />
                </div>
              )}
              {"role" in r && (
                <Select style={{ width: 180 }} value={r.role || null} options={roles.map((x) => ({ value: x.key, label: labelText(x.name as Label, lang, x.key) }))} onChange={(role: string) => setTo(to.map((x, j) => (j === i ? { role } : x)))} data-testid={`${testId}-to-${i}-role`} />
              )}
              {"field" in r && (
                <Select style={{ width: 180 }} value={r.field || null} options={userFields.map((f) => ({ value: f.key, label: fieldLabel(f, lang) }))} onChange={(field: string) => setTo(to.map((x, j) => (j === i ? { field } : x)))} data-testid={`${testId}-to-${i}-field`} />
              )}
              <Button size="small" type="text" danger icon={<DeleteOutlined />} aria-label={t("rules.removeRow")} onClick={() => setTo(to.filter((_, j) => j !== i))} />
            </Space>
          );
        })}
        <Button size="small" icon={<PlusOutlined />} onClick={() => setTo([...to, { owner: true }])} data-testid={`${testId}-to-add`}>
          {t("rules.addRecipient")}
        </Button>
      </Form.Item>
      <Form.Item label={t("rules.notifyTitle")} required extra={t("rules.templateHelp", { example: "{{title}}", titleVar: "{{record_title}}" })} {...help(issues("title"))}>
        <Input value={typeof action.title === "string" ? action.title : ""} onChange={(e) => set({ title: e.target.value })} data-testid={`${testId}-title`} />
      </Form.Item>
      <Form.Item label={t("rules.notifyBody")} {...help(issues("body"))}>
        <Input.TextArea rows={3} value={typeof action.body === "string" ? action.body : ""} onChange={(e) => set({ body: e.target.value })} data-testid={`${testId}-body`} />
      </Form.Item>
    </>
  );
}
