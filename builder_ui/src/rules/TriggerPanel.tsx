/**
 * The trigger of a rule in the designer (`on`): the trigger type, grouped (data changes, flows,
 * time, manual), and its settings — the watched fields; the flow, step, task action or outcome
 * from the app's flows of the rule's form; a schedule as 每天/每周/每月 + a time (or a cron
 * expression) with a filter over the form's records; a date field with "N 天前/后" and a time;
 * a button's label. The trigger in words is shown underneath.
 */
import { Form, Input, InputNumber, Select, Space, TimePicker, Typography } from "antd";
import dayjs from "dayjs";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import type { AppDef, FormDef } from "../api/types";
import FormulaEditor from "../designer/props/FormulaEditor";
import { fieldLabel, labelText } from "../forms/labels";
import { cronOf, FLOW_OUTCOMES, FLOW_TRIGGERS, flowsFor, scheduleOf, TASK_ACTIONS, triggerText, type RuleTrigger, type Schedule } from "./definition";
import { contextOf } from "./MappingEditor";

const GROUPS: [string, string[]][] = [
  ["record", ["record_created", "record_updated", "field_changed", "record_deleted"]],
  ["flow", ["flow_started", "flow_node_entered", "flow_task_done", "flow_finished"]],
  ["time", ["schedule", "date_reached"]],
  ["manual", ["button"]],
];

interface Props {
  app: AppDef;
  form: FormDef | undefined;
  on: RuleTrigger;
  onChange(on: RuleTrigger): void;
  messages: string[];
}

export default function TriggerPanel({ app, form, on, onChange, messages }: Props) {
  const { t, i18n } = useTranslation();
  const lang = i18n.language;
  const set = (patch: Partial<RuleTrigger>) => onChange({ ...on, ...patch });
  const flows = flowsFor(app, form?.key);
  const flow = flows.find((f) => f.key === on.flow);
  const taskNodes = (flow?.nodes ?? []).filter((n) => ["approve", "handle", "cc"].includes(n.type));
  const fieldOptions = (form?.fields ?? []).filter((f) => f.type !== "section").map((f) => ({ value: f.key, label: fieldLabel(f, lang) }));
  const dateFields = (form?.fields ?? []).filter((f) => f.type === "date" || f.type === "datetime");
  const fresh = (type: string): RuleTrigger => {
    if (type === "field_changed") return { type, fields: [] };
    if (type === "schedule") return { type, cron: "0 9 * * *" };
    if (type === "date_reached") return { type, field: dateFields[0]?.key ?? "", offset_days: -3, at: "09:00" };
    if (type === "button") return { type, label: { zh: "", en: "" } };
    return { type };
  };
  return (
    <div data-testid="rule-trigger">
      <Form.Item label={t("rules.trigger")} required validateStatus={messages.length ? "error" : undefined} help={messages.length ? <span data-testid="rule-trigger-issue">{messages.join("；")}</span> : undefined}>
        <Select
          virtual={false}
          value={on.type}
          options={GROUPS.map(([group, types]) => ({ label: t(`rules.triggerGroups.${group}`), options: types.map((type) => ({ value: type, label: t(`rules.triggers.${type}`) })) }))}
          onChange={(type: string) => onChange(fresh(type))}
          data-testid="rule-trigger-type"
        />
      </Form.Item>
      {on.type === "field_changed" && (
        <Form.Item label={t("rules.fields")} extra={t("rules.fieldsHelp")}>
          <Select mode="multiple" value={on.fields ?? []} options={fieldOptions} onChange={(fields: string[]) => set({ fields })} data-testid="rule-trigger-fields" />
        </Form.Item>
      )}
      {FLOW_TRIGGERS.has(on.type) && (
        <Space wrap align="start">
          <Form.Item label={t("rules.flow")}>
            <Select
              style={{ width: 200 }}
              allowClear
              placeholder={flows.length ? t("rules.anyFlow") : t("rules.noFlows")}
              value={on.flow ?? null}
              options={flows.map((f) => ({ value: f.key, label: labelText(f.name, lang, f.key) }))}
              onChange={(value?: string) => onChange(withOptional({ type: on.type, outcome: on.outcome, action: on.action }, "flow", value))}
              data-testid="rule-trigger-flow"
            />
          </Form.Item>
          {(on.type === "flow_node_entered" || on.type === "flow_task_done") && (
            <Form.Item label={t("rules.node")}>
              <Select
                style={{ width: 200 }}
                allowClear
                placeholder={t("rules.anyNode")}
                disabled={!flow}
                value={on.node ?? null}
                options={taskNodes.map((n) => ({ value: n.id, label: labelText(n.name, lang, n.id) }))}
                onChange={(value?: string) => onChange(withOptional(on, "node", value))}
                data-testid="rule-trigger-node"
              />
            </Form.Item>
          )}
          {on.type === "flow_task_done" && (
            <Form.Item label={t("rules.taskAction")}>
              <Select
                style={{ width: 160 }}
                allowClear
                placeholder={t("rules.anyAction")}
                value={on.action ?? null}
                options={TASK_ACTIONS.map((a) => ({ value: a, label: t(`rules.taskActions.${a}`) }))}
                onChange={(value?: string) => onChange(withOptional(on, "action", value))}
                data-testid="rule-trigger-action"
              />
            </Form.Item>
          )}
          {on.type === "flow_finished" && (
            <Form.Item label={t("rules.outcome")}>
              <Select
                style={{ width: 160 }}
                allowClear
                placeholder={t("rules.anyOutcome")}
                value={on.outcome ?? null}
                options={FLOW_OUTCOMES.map((o) => ({ value: o, label: t(`rules.outcomes.${o}`) }))}
                onChange={(value?: string) => onChange(withOptional(on, "outcome", value))}
                data-testid="rule-trigger-outcome"
              />
            </Form.Item>
          )}
        </Space>
      )}
      {on.type === "schedule" && <ScheduleEditor app={app} form={form} on={on} onChange={onChange} />}
      {on.type === "date_reached" && (
        <Space wrap align="start">
          <Form.Item label={t("rules.dateField")}>
            <Select style={{ width: 180 }} value={on.field || null} options={dateFields.map((f) => ({ value: f.key, label: fieldLabel(f, lang) }))} onChange={(field: string) => set({ field })} data-testid="rule-trigger-date-field" />
          </Form.Item>
          <Form.Item label={t("rules.offset")}>
            <Space.Compact>
              <InputNumber min={0} max={365} precision={0} value={Math.abs(Number(on.offset_days ?? 0))} onChange={(n) => set({ offset_days: (Number(on.offset_days ?? 0) > 0 ? 1 : -1) * Number(n ?? 0) })} data-testid="rule-trigger-days" />
              <Select
                style={{ width: 100 }}
                value={Number(on.offset_days ?? 0) > 0 ? "after" : "before"}
                options={[
                  { value: "before", label: t("rules.before") },
                  { value: "after", label: t("rules.after") },
                ]}
                onChange={(side: string) => set({ offset_days: (side === "after" ? 1 : -1) * Math.abs(Number(on.offset_days ?? 0)) })}
                data-testid="rule-trigger-side"
              />
            </Space.Compact>
          </Form.Item>
          <Form.Item label={t("rules.at")}>
            <TimeInput value={on.at || "09:00"} onChange={(at) => set({ at })} testId="rule-trigger-at" />
          </Form.Item>
        </Space>
      )}
      {on.type === "button" && (
        <Space wrap>
          <Form.Item label={t("rules.buttonLabelZh")} required>
            <Input value={on.label?.zh ?? ""} onChange={(e) => set({ label: { ...on.label, zh: e.target.value } })} data-testid="rule-trigger-label-zh" />
          </Form.Item>
          <Form.Item label={t("rules.buttonLabelEn")}>
            <Input value={on.label?.en ?? ""} onChange={(e) => set({ label: { ...on.label, en: e.target.value } })} data-testid="rule-trigger-label-en" />
          </Form.Item>
        </Space>
      )}
      {form && (
        <Typography.Paragraph type="secondary" data-testid="rule-trigger-words">
          {triggerText({ form: form.key, on }, app, lang, t)}
        </Typography.Paragraph>
      )}
    </div>
  );
}

/** `on` with `key` set to `value`, or without `key` when the value is cleared. */
function withOptional(on: RuleTrigger, key: "flow" | "node" | "action" | "outcome", value: string | undefined): RuleTrigger {
  const next: RuleTrigger = { ...on };
  for (const k of Object.keys(next)) if (next[k] === undefined) delete next[k];
  if (value) next[key] = value;
  else delete next[key];
  if (key === "flow") delete next.node;
  return next;
}

function TimeInput({ value, onChange, testId }: { value: string; onChange(value: string): void; testId: string }) {
  const parsed = dayjs(`2000-01-01 ${value}`);
  return <TimePicker format="HH:mm" allowClear={false} value={parsed.isValid() ? parsed : null} onChange={(v) => v && onChange(v.format("HH:mm"))} data-testid={testId} />;
}

function ScheduleEditor({ app, form, on, onChange }: { app: AppDef; form: FormDef | undefined; on: RuleTrigger; onChange(on: RuleTrigger): void }) {
  const { t } = useTranslation();
  const cron = on.cron ?? "";
  const preset = scheduleOf(cron);
  const [custom, setCustom] = useState(!preset);
  const every = custom || !preset ? "custom" : preset.every;
  const s: Schedule = preset ?? { every: "day", weekday: 1, day: 1, time: "09:00" };
  const setSchedule = (patch: Partial<Schedule>) => onChange({ ...on, cron: cronOf({ ...s, ...patch }) });
  return (
    <>
      <Space wrap align="start">
        <Form.Item label={t("rules.schedule")}>
          <Select
            style={{ width: 150 }}
            value={every}
            options={(["day", "week", "month", "custom"] as const).map((k) => ({ value: k, label: t(`rules.presets.${k}`) }))}
            onChange={(k: Schedule["every"] | "custom") => {
              setCustom(k === "custom");
              if (k !== "custom") setSchedule({ every: k });
            }}
            data-testid="rule-schedule-every"
          />
        </Form.Item>
        {every === "week" && (
          <Form.Item label=" ">
            <Select
              style={{ width: 110 }}
              value={s.weekday}
              options={[1, 2, 3, 4, 5, 6, 0].map((d) => ({ value: d, label: t(`rules.weekdays.${d}`) }))}
              onChange={(weekday: number) => setSchedule({ weekday })}
              data-testid="rule-schedule-weekday"
            />
          </Form.Item>
        )}
        {every === "month" && (
          <Form.Item label={t("rules.dayOfMonth")}>
            <Select
              style={{ width: 100 }}
              value={s.day}
              options={Array.from({ length: 31 }, (_, i) => ({ value: i + 1, label: t("rules.dayOfMonthValue", { day: i + 1 }) }))}
              onChange={(day: number) => setSchedule({ day })}
              data-testid="rule-schedule-day"
            />
          </Form.Item>
        )}
        {every !== "custom" ? (
          <Form.Item label={t("rules.time")}>
            <TimeInput value={s.time} onChange={(time) => setSchedule({ time })} testId="rule-schedule-time" />
          </Form.Item>
        ) : (
          <Form.Item label={t("rules.cron")} extra={t("rules.cronHelp")}>
            <Input style={{ width: 200, fontFamily: "monospace" }} value={cron} onChange={(e) => onChange({ ...on, cron: e.target.value })} data-testid="rule-schedule-cron" />
          </Form.Item>
        )}
      </Space>
      {form && (
        <Form.Item label={t("rules.scheduleFilter")} extra={t("rules.scheduleFilterHelp")}>
          <FormulaEditor
            value={on.filter ?? ""}
            onChange={(filter) => {
              const next = { ...on };
              if (filter.trim()) next.filter = filter;
              else delete next.filter;
              onChange(next);
            }}
            testId="rule-schedule-filter"
            context={contextOf(app, form)}
          />
        </Form.Item>
      )}
    </>
  );
}
