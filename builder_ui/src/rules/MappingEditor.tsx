/**
 * An action's field mapping (`values`) as rows: for each field of the target form, how its value
 * is made — 公式 (a formula over the triggering record, in the formula editor), 复制字段 (a
 * same-typed field of the rule's form, picked), 固定值 (the field's own input) or 汇总 (an
 * aggregate over another form: form, aggregate, field, match pairs, filter). Also the match
 * pairs (`match`: a target field equals a value from the triggering record) that upserts,
 * targets and aggregates use. Pickers everywhere; no raw keys to type.
 */
import { DeleteOutlined, PlusOutlined } from "@ant-design/icons";
import { Button, Form, Select, Space, Typography } from "antd";
import { useTranslation } from "react-i18next";
import type { AppDef, FieldDef, FormDef } from "../api/types";
import FieldInput from "../components/FieldInput";
import FormulaEditor from "../designer/props/FormulaEditor";
import type { DesignContext } from "../designer/props/context";
import { hasTrait } from "../forms/fieldTypes";
import { fieldLabel, labelText } from "../forms/labels";
import { AGGREGATES, copySources, emptyRow, rowsOf, valuesOf, writableFields, type MappingRow, type ValueKind } from "./definition";

const KINDS: ValueKind[] = ["formula", "copy", "value", "aggregate"];

/** The formula context of a form's records (the formula editor's chips and live check). */
export function contextOf(app: AppDef, form: FormDef | undefined): DesignContext {
  return { app, formKey: form?.key, formFields: form?.fields ?? [] };
}

interface MappingProps {
  app: AppDef;
  /** The rule's form: formulas and copies read its record. */
  source: FormDef | undefined;
  /** The form whose fields are set. */
  target: FormDef | undefined;
  values: Record<string, unknown>;
  onChange(values: Record<string, unknown>): void;
  /** Messages per target field (server issues at `values.<field>`). */
  issues(field: string): string[];
  testId: string;
}

export function MappingEditor({ app, source, target, values, onChange, issues, testId }: MappingProps) {
  const { t, i18n } = useTranslation();
  const lang = i18n.language;
  const rows = rowsOf(values);
  const fields = writableFields(target);
  const used = new Set(rows.map((r) => r.field));
  const setRows = (next: MappingRow[]) => onChange(valuesOf(next));
  const patch = (index: number, row: MappingRow) => setRows(rows.map((r, i) => (i === index ? row : r)));
  if (!target) return null;
  return (
    <div data-testid={`${testId}-mapping`}>
      {rows.length === 0 && (
        <Typography.Paragraph type="secondary" style={{ marginBottom: 8 }}>
          {t("rules.mappingEmpty")}
        </Typography.Paragraph>
      )}
      {rows.map((row, index) => {
        const field = target.fields.find((f) => f.key === row.field);
        const messages = issues(row.field);
        const rowId = `${testId}-map-${row.field}`;
        return (
          <div
            key={row.field}
            className="jimu-rule-map-row"
            style={{ border: `1px solid ${messages.length ? "#ff4d4f" : "#f0f0f0"}`, borderRadius: 6, padding: 8, marginBottom: 8 }}
            data-testid={rowId}
          >
            <Space wrap style={{ marginBottom: 6 }}>
              <Typography.Text strong>{field ? fieldLabel(field, lang) : row.field}</Typography.Text>
              <Select
                size="small"
                value={row.kind}
                style={{ width: 120 }}
                options={KINDS.map((k) => ({ value: k, label: t(`rules.kinds.${k}`) }))}
                onChange={(kind: ValueKind) => patch(index, emptyRow(row.field, kind, target.key))}
                data-testid={`${rowId}-kind`}
              />
              <Button size="small" type="text" danger icon={<DeleteOutlined />} onClick={() => setRows(rows.filter((_, i) => i !== index))} aria-label={t("rules.removeRow")} data-testid={`${rowId}-remove`} />
            </Space>
            {field && <ValueEditor app={app} source={source} field={field} row={row} onChange={(next) => patch(index, next)} testId={rowId} />}
            {messages.map((m, i) => (
              <Typography.Text key={i} type="danger" style={{ display: "block" }} data-testid={`${rowId}-issue`}>
                {m}
              </Typography.Text>
            ))}
          </div>
        );
      })}
      <Select
        style={{ width: 240 }}
        placeholder={
          <>
            <PlusOutlined /> {t("rules.addField")}
          </>
        }
        value={null}
        showSearch={{ optionFilterProp: "label" }}
        options={fields.filter((f) => !used.has(f.key)).map((f) => ({ value: f.key, label: fieldLabel(f, lang) }))}
        onChange={(key: string) => {
          const field = target.fields.find((f) => f.key === key);
          const copies = field && source ? copySources(field, source.fields) : [];
          // a field the rule's form has a same-typed field for starts as a copy of it
          const same = copies.find((f) => f.key === key) ?? (field?.type === "relation" ? copies[0] : undefined);
          setRows([...rows, same ? { field: key, kind: "copy", copy: same.key } : emptyRow(key, "formula")]);
        }}
        data-testid={`${testId}-map-add`}
      />
    </div>
  );
}

function ValueEditor({ app, source, field, row, onChange, testId }: { app: AppDef; source: FormDef | undefined; field: FieldDef; row: MappingRow; onChange(row: MappingRow): void; testId: string }) {
  const { t, i18n } = useTranslation();
  const lang = i18n.language;
  switch (row.kind) {
    case "formula":
      return <FormulaEditor value={row.formula} onChange={(formula) => onChange({ ...row, formula })} testId={`${testId}-formula`} context={{ ...contextOf(app, source), rule: true }} />;
    case "copy": {
      const sources = source ? copySources(field, source.fields) : [];
      return (
        <Select
          style={{ width: "100%" }}
          placeholder={sources.length ? t("rules.copyFrom") : t("rules.copyNone")}
          value={row.copy || null}
          options={sources.map((f) => ({ value: f.key, label: fieldLabel(f, lang) }))}
          onChange={(copy: string) => onChange({ ...row, copy })}
          data-testid={`${testId}-copy`}
        />
      );
    }
    case "value":
      return (
        <div data-testid={`${testId}-value`}>
          <FieldInput app={app} field={field} value={row.value} onChange={(value) => onChange({ ...row, value })} idPrefix={`${testId}-value-`} />
        </div>
      );
    case "aggregate":
      return <AggregateEditor app={app} source={source} row={row} onChange={onChange} testId={testId} />;
  }
}

function AggregateEditor({ app, source, row, onChange, testId }: { app: AppDef; source: FormDef | undefined; row: Extract<MappingRow, { kind: "aggregate" }>; onChange(row: MappingRow): void; testId: string }) {
  const { t, i18n } = useTranslation();
  const lang = i18n.language;
  const a = row.aggregate;
  const form = app.forms.find((f) => f.key === a.form);
  const numeric = (form?.fields ?? []).filter((f) => hasTrait(f.type, "sortable") && f.type !== "section");
  const set = (patch: Partial<typeof a>) => onChange({ ...row, aggregate: { ...a, ...patch } });
  return (
    <div data-testid={`${testId}-aggregate`}>
      <Space wrap>
        <Select
          style={{ width: 160 }}
          placeholder={t("rules.aggForm")}
          value={a.form || null}
          options={app.forms.map((f) => ({ value: f.key, label: labelText(f.name, lang, f.key) }))}
          onChange={(key: string) => set({ form: key, field: undefined, match: {}, filter: undefined })}
          data-testid={`${testId}-agg-form`}
        />
        <Select
          style={{ width: 110 }}
          value={a.agg}
          options={AGGREGATES.map((k) => ({ value: k, label: t(`rules.aggs.${k}`) }))}
          onChange={(agg: (typeof AGGREGATES)[number]) => set({ agg })}
          data-testid={`${testId}-agg`}
        />
        {a.agg !== "count" && (
          <Select
            style={{ width: 160 }}
            placeholder={t("rules.aggField")}
            value={a.field || null}
            options={numeric.map((f) => ({ value: f.key, label: fieldLabel(f, lang) }))}
            onChange={(field: string) => set({ field })}
            data-testid={`${testId}-agg-field`}
          />
        )}
      </Space>
      {form && (
        <>
          <MatchEditor app={app} source={source} target={form} match={a.match ?? {}} onChange={(match) => set({ match })} testId={`${testId}-agg-match`} />
          <Form.Item label={t("rules.aggFilter")} style={{ marginBottom: 0 }}>
            <FormulaEditor value={a.filter ?? ""} onChange={(filter) => set({ filter })} testId={`${testId}-agg-filter`} context={contextOf(app, form)} />
          </Form.Item>
        </>
      )}
    </div>
  );
}

interface MatchProps {
  app: AppDef;
  /** The rule's form: where each match value comes from. */
  source: FormDef | undefined;
  /** The form whose field each pair names. */
  target: FormDef;
  match: Record<string, unknown>;
  onChange(match: Record<string, unknown>): void;
  testId: string;
  messages?: string[];
}

/** Match pairs: a field of `target` equals a value from the triggering record (one of its
 * fields, or its own id), stored as a formula over the record (`{"customer": "customer"}`). */
export function MatchEditor({ source, target, match, onChange, testId, messages = [] }: MatchProps) {
  const { t, i18n } = useTranslation();
  const lang = i18n.language;
  const pairs = Object.entries(match);
  const sourceOptions = [
    { value: "_id", label: t("rules.thisRecord") },
    ...(source?.fields ?? []).filter((f) => f.type !== "section" && f.type !== "subform").map((f) => ({ value: f.key, label: fieldLabel(f, lang) })),
  ];
  const targetOptions = (target.fields ?? []).filter((f) => f.type !== "section" && f.type !== "subform").map((f) => ({ value: f.key, label: fieldLabel(f, lang) }));
  const rebuild = (next: [string, unknown][]) => onChange(Object.fromEntries(next.filter(([k]) => k)));
  return (
    <div style={{ margin: "6px 0" }} data-testid={testId}>
      <Typography.Text type="secondary">{t("rules.match")}</Typography.Text>
      {pairs.map(([key, value], index) => (
        <Space key={key || index} wrap style={{ display: "flex", marginTop: 4 }} data-testid={`${testId}-${index}`}>
          <Select
            style={{ width: 160 }}
            placeholder={t("rules.matchField")}
            value={key || null}
            options={targetOptions.filter((o) => o.value === key || !(o.value in match))}
            onChange={(k: string) => rebuild(pairs.map(([pk, pv], i) => (i === index ? [k, pv] : [pk, pv])))}
            data-testid={`${testId}-${index}-field`}
          />
          <span>{t("rules.matchValue")}</span>
          <Select
            style={{ width: 180 }}
            value={typeof value === "string" ? value : null}
            options={sourceOptions}
            onChange={(v: string) => rebuild(pairs.map(([pk, pv], i) => (i === index ? [pk, v] : [pk, pv])))}
            data-testid={`${testId}-${index}-value`}
          />
          <Button size="small" type="text" danger icon={<DeleteOutlined />} aria-label={t("rules.removeRow")} onClick={() => rebuild(pairs.filter((_, i) => i !== index))} />
        </Space>
      ))}
      <div style={{ marginTop: 4 }}>
        <Select
          size="small"
          style={{ width: 200 }}
          placeholder={
            <>
              <PlusOutlined /> {t("rules.addMatch")}
            </>
          }
          value={null}
          options={targetOptions.filter((o) => !(o.value in match))}
          onChange={(k: string) => onChange({ ...match, [k]: source?.fields.some((f) => f.key === k) ? k : "_id" })}
          data-testid={`${testId}-add`}
        />
      </div>
      {messages.map((m, i) => (
        <Typography.Text key={i} type="danger" style={{ display: "block" }}>
          {m}
        </Typography.Text>
      ))}
    </div>
  );
}
