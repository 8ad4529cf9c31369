/**
 * 设计规则 · Rule designer: one automation rule of the app — name and form, the trigger with its
 * settings (rules/TriggerPanel), the condition in the formula editor (with OLD() for updates),
 * sync or async explained in plain words (sync only when every action writes records), and the
 * ordered actions (rules/ActionPanel: add, remove, ↑/↓, field mapping with pickers). Saving
 * publishes the app's whole rules list (`PUT /apps/{app}/rules`); the server's issues come back
 * at the controls their `rules[i].…` paths name and as a list, and nothing is saved. 试运行
 * runs the unsaved rule against a record with nothing written. `/_rules/_new` drafts a new rule
 * (published on the first save). A desktop tool: on a phone it says so. Leaving with unsaved
 * changes asks first.
 */
import { ExperimentOutlined, HistoryOutlined, PlusOutlined } from "@ant-design/icons";
import { Alert, App, Button, Card, Form, Input, Radio, Result, Select, Space, Typography } from "antd";
import { useMemo, useState } from "react";
import { useTranslation } from "react-i18next";
import { Link, useNavigate, useParams, useSearchParams } from "react-router";
import type { AppDef, Issue } from "../api/types";
import { useAuth } from "../auth/AuthContext";
import { ConflictAlert, DesignerHeader, usePartPublish } from "../components/PartDesigner";
import { UnsavedGuard } from "../components/UnsavedGuard";
import FormulaEditor from "../designer/props/FormulaEditor";
import { fieldLabel, labelText } from "../forms/labels";
import ActionPanel from "../rules/ActionPanel";
import { publishRules } from "../rules/api";
import { ACTION_TYPES, NEW_RULE, canonical, canRunSync, cleanRule, freshRuleKey, fromTestPath, issueControl, issuesByControl, messagesAt, newAction, newRule, offersOld, rulesOf, type RuleActionDef, type RuleDef, type RuleTrigger } from "../rules/definition";
import { contextOf } from "../rules/MappingEditor";
import TestRunModal from "../rules/TestRunModal";
import TriggerPanel from "../rules/TriggerPanel";
import { useApp } from "./appContext";

export default function RuleDesignerPage() {
  const { user } = useAuth();
  const { app } = useApp();
  const { rule: key } = useParams();
  const [params] = useSearchParams();
  const { t } = useTranslation();
  // decided once, on opening: a breakpoint that flickers (a resize, a full-page screenshot)
  // must never unmount the designer and lose the draft
  const [phone] = useState(() => typeof window !== "undefined" && window.matchMedia("(max-width: 767px)").matches);
  if (!user?.is_admin) return <Result status="403" title={t("errors.forbidden")} />;
  const stored = key === NEW_RULE ? null : rulesOf(app).find((r) => r.key === key);
  if (key !== NEW_RULE && !stored) return <Result status="404" title={t("errors.notFound")} />;
  if (phone)
    return (
      <Result
        status="info"
        title={t("rules.desktopOnly")}
        extra={
          <Space wrap>
            <Link to={`/apps/${app.key}/_rules`}>{t("rules.back")}</Link>
            {stored && <Link to={`/apps/${app.key}/_rules/${stored.key}/runs`}>{t("rules.runs")}</Link>}
          </Space>
        }
        data-testid="rule-desktop-only"
      />
    );
  const initial = stored ?? newRule(rulesOf(app), params.get("form") ?? app.forms[0]?.key);
  return <Designer key={`${app.key}/${key}/${app._revision}`} app={app} initial={initial} isNew={!stored} />;
}

function Designer({ app, initial, isNew }: { app: AppDef; initial: RuleDef; isNew: boolean }) {
  const { t, i18n } = useTranslation();
  const lang = i18n.language === "en" ? "en" : "zh";
  const { message } = App.useApp();
  const navigate = useNavigate();
  const [rule, setRule] = useState<RuleDef>(initial);
  const [issues, setIssues] = useState<Issue[]>([]);
  const { busy, conflict, publish, reload } = usePartPublish(app.key);
  const [testing, setTesting] = useState(false);
  const rules = rulesOf(app);
  const index = isNew ? rules.length : rules.findIndex((r) => r.key === initial.key);
  const form = app.forms.find((f) => f.key === rule.form);
  const byControl = useMemo(() => issuesByControl(issues, index), [issues, index]);
  const at = (control: string) => messagesAt(byControl, control);
  const dirty = canonical(rule) !== canonical(initial);
  const names = (typeof rule.name === "object" && rule.name ? rule.name : { zh: typeof rule.name === "string" ? rule.name : "" }) as { zh?: string | null; en?: string | null };
  const syncAllowed = canRunSync(rule.actions);

  const patch = (next: Partial<RuleDef>) => setRule((r) => ({ ...r, ...next }));
  const setActions = (actions: RuleActionDef[]) => setRule((r) => ({ ...r, actions, ...(r.mode === "sync" && !canRunSync(actions) ? { mode: "async" as const } : {}) }));
  const setForm = (formKey: string) => {
    const next: RuleDef = { ...rule, form: formKey, on: { type: rule.on.type } as RuleTrigger };
    if (isNew) next.key = freshRuleKey(rules, formKey);
    if (rule.on.type === "field_changed") next.on.fields = [];
    delete next.when;
    setRule(next);
  };

  const save = async () => {
    if (!names.zh?.trim()) {
      setIssues([{ path: `rules[${index}].name`, code: "missing", message: t("rules.nameRule") }]);
      message.error(t("rules.fix"));
      return;
    }
    const clean = cleanRule(rule);
    const list = isNew ? [...rules, clean] : rules.map((r, i) => (i === index ? clean : r));
    await publish(() => publishRules(app, list), {
      saved: t("rules.saved"),
      fix: t("rules.fix"),
      onIssues: setIssues,
      onSaved: () => {
        if (isNew) navigate(`/apps/${app.key}/_rules/${clean.key}`, { replace: true });
      },
    });
  };
  const help = (control: string) => {
    const messages = at(control);
    return messages.length ? { validateStatus: "error" as const, help: <span data-testid={`rule-issue-${control}`}>{messages.join("；")}</span> } : {};
  };
  const mine = issues.filter((i) => issueControl(i.path, index) !== null);
  const others = issues.filter((i) => !mine.includes(i));

  return (
    <>
      <DesignerHeader
        testId="rule"
        back={`/apps/${app.key}/_rules`}
        backText={t("rules.back")}
        title={labelText(rule.name, lang, "") || t("rules.newTitle")}
        dirty={dirty}
        dirtyText={t("rules.unsaved")}
        actions={
          <>
            {!isNew && (
              <Link to={`/apps/${app.key}/_rules/${initial.key}/runs`} data-testid="rule-open-runs">
                <HistoryOutlined /> {t("rules.runs")}
              </Link>
            )}
            <Button icon={<ExperimentOutlined />} onClick={() => setTesting(true)} disabled={!rule.form} data-testid="rule-test">
              {t("rules.test")}
            </Button>
            <Button type="primary" loading={busy} onClick={save} data-testid="rule-save">
              {t("rules.save")}
            </Button>
          </>
        }
      />
      <ConflictAlert testId="rule" conflict={conflict} onReload={reload} />
      {issues.length > 0 && (
        <Alert
          type="error"
          showIcon
          style={{ marginBottom: 12 }}
          title={t("rules.issues")}
          description={
            <>
              <ul style={{ margin: 0, paddingInlineStart: 18 }} data-testid="rule-issues">
                {mine.map((issue, i) => (
                  <li key={i} data-testid="rule-issue">
                    {issue.message}
                  </li>
                ))}
              </ul>
              {others.length > 0 && (
                <>
                  <div>{t("rules.otherIssues")}</div>
                  <ul style={{ margin: 0, paddingInlineStart: 18 }}>
                    {others.map((issue, i) => (
                      <li key={i}>
                        <Typography.Text code>{issue.path}</Typography.Text> {issue.message}
                      </li>
                    ))}
                  </ul>
                </>
              )}
            </>
          }
        />
      )}
      {at("rule").length > 0 && <Alert type="error" style={{ marginBottom: 12 }} title={at("rule").join("；")} />}
      <Form layout="vertical">
        <Card size="small" title={t("rules.sections.basics")} style={{ marginBottom: 12 }}>
          <Space wrap align="start">
            <Form.Item label={t("rules.nameZh")} required style={{ minWidth: 240 }} {...help("name")}>
              <Input value={names.zh ?? ""} onChange={(e) => patch({ name: { zh: e.target.value, en: names.en ?? "" } })} data-testid="rule-name-zh" />
            </Form.Item>
            <Form.Item label={t("rules.nameEn")} style={{ minWidth: 240 }}>
              <Input value={names.en ?? ""} onChange={(e) => patch({ name: { zh: names.zh ?? "", en: e.target.value } })} data-testid="rule-name-en" />
            </Form.Item>
            <Form.Item label={t("rules.form")} required style={{ minWidth: 200 }} {...help("form")}>
              <Select
                value={rule.form ?? null}
                placeholder={t("rules.formPlaceholder")}
                options={app.forms.map((f) => ({ value: f.key, label: labelText(f.name, lang, f.key) }))}
                onChange={setForm}
                data-testid="rule-form"
              />
            </Form.Item>
          </Space>
        </Card>
        <Card size="small" title={t("rules.sections.trigger")} style={{ marginBottom: 12, borderColor: at("on").length ? "#ff4d4f" : undefined }}>
          <TriggerPanel app={app} form={form} on={rule.on} onChange={(on) => patch({ on })} messages={at("on")} />
        </Card>
        <Card size="small" title={t("rules.sections.condition")} style={{ marginBottom: 12, borderColor: at("when").length ? "#ff4d4f" : undefined }}>
          <Form.Item label={t("rules.condition")} extra={t("rules.conditionHelp")} {...help("when")}>
            <FormulaEditor value={rule.when ?? ""} onChange={(when) => patch({ when })} testId="rule-when" context={{ ...contextOf(app, form), rule: true }} />
          </Form.Item>
          {offersOld(rule.on) && form && (
            <Space wrap>
              <Select
                style={{ width: 260 }}
                value={null}
                placeholder={t("rules.insertOld")}
                options={form.fields.filter((f) => f.type !== "section" && f.type !== "subform").map((f) => ({ value: f.key, label: `OLD(${fieldLabel(f, lang)})` }))}
                onChange={(key: string) => patch({ when: `${rule.when ?? ""}${rule.when && !/\s$/.test(rule.when) ? " " : ""}OLD(${key})` })}
                data-testid="rule-insert-old"
              />
              <Typography.Text type="secondary">{t("rules.oldHelp")}</Typography.Text>
            </Space>
          )}
          <Form.Item label={t("rules.mode")} style={{ marginTop: 12, marginBottom: 0 }} {...help("mode")}>
            <Radio.Group value={rule.mode ?? "async"} onChange={(e) => patch({ mode: e.target.value })} data-testid="rule-mode">
              <Space orientation="vertical">
                <Radio value="async" data-testid="rule-mode-async">
                  {t("rules.modeHelp.async")}
                </Radio>
                <Radio value="sync" disabled={!syncAllowed} data-testid="rule-mode-sync">
                  {t("rules.modeHelp.sync")}
                </Radio>
              </Space>
            </Radio.Group>
            {!syncAllowed && (
              <Typography.Paragraph type="secondary" style={{ marginTop: 4, marginBottom: 0 }} data-testid="rule-sync-blocked">
                {t("rules.syncBlocked")}
              </Typography.Paragraph>
            )}
          </Form.Item>
        </Card>
      </Form>
      <Card size="small" title={t("rules.sections.actions")} style={{ marginBottom: 12 }}>
        {rule.actions.length === 0 && (
          <Typography.Paragraph type={at("actions").length ? "danger" : "secondary"} data-testid="rule-no-actions">
            {at("actions").length ? at("actions").join("；") : t("rules.noActions")}
          </Typography.Paragraph>
        )}
        {rule.actions.map((action, i) => (
          <ActionPanel
            key={i}
            app={app}
            rule={rule}
            action={action}
            index={i}
            count={rule.actions.length}
            issueMap={byControl}
            onChange={(next) => setActions(rule.actions.map((a, j) => (j === i ? next : a)))}
            onRemove={() => setActions(rule.actions.filter((_, j) => j !== i))}
            onMove={(delta) => {
              const next = [...rule.actions];
              const [moved] = next.splice(i, 1);
              next.splice(i + delta, 0, moved);
              setActions(next);
            }}
          />
        ))}
        <Select
          style={{ width: 240 }}
          value={null}
          placeholder={
            <>
              <PlusOutlined /> {t("rules.addAction")}
            </>
          }
          options={ACTION_TYPES.map((type) => ({ value: type, label: t(`rules.actionTypes.${type}`) }))}
          onChange={(type: string) => setActions([...rule.actions, newAction(type)])}
          data-testid="rule-add-action"
        />
      </Card>
      {testing && <TestRunModal app={app} rule={rule} onClose={() => setTesting(false)} onIssues={(found) => setIssues(found.map((i) => ({ ...i, path: fromTestPath(i.path, index) })))} />}
      <UnsavedGuard dirty={dirty && !busy} />
    </>
  );
}
