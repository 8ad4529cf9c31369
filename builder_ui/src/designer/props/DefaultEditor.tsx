/**
 * A field's default: none, a literal (an input of the field's own type), a formula (the formula
 * editor) or data linkage (数据联动: the value of a field of the record of another form whose
 * fields equal this form's, stored as `{"linkage": {form, when, take}}`).
 */
import { DeleteOutlined, PlusOutlined } from "@ant-design/icons";
import { Alert, Button, Checkbox, DatePicker, Input, InputNumber, Radio, Select, Space, Typography } from "antd";
import dayjs from "dayjs";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import type { FieldDef } from "../../api/types";
import { fieldLabel, labelText } from "../../forms/labels";
import {
  addCondition,
  defaultKind,
  LITERAL_DEFAULT_TYPES,
  linkageDefault,
  linkageMissing,
  linkageOf,
  MAX_LINKAGE_CONDITIONS,
  removeCondition,
  setCondition,
  setLinkageForm,
  type DefaultKind,
  type Linkage,
} from "../properties";
import type { DesignContext } from "./context";
import { rowFields } from "./context";
import FormulaEditor from "./FormulaEditor";
import PropItem, { type IssuesAt } from "./PropItem";

interface Props {
  field: FieldDef;
  context: DesignContext;
  issuesAt: IssuesAt;
  onPatch(change: Partial<FieldDef>): void;
}

export default function DefaultEditor({ field, context, issuesAt, onPatch }: Props) {
  const { t } = useTranslation();
  const [kind, setKind] = useState<DefaultKind>(() => defaultKind(field.default));
  const kinds: DefaultKind[] = ["none", ...(LITERAL_DEFAULT_TYPES.has(field.type) ? (["literal"] as const) : []), "formula", "linkage"];
  const choose = (next: DefaultKind) => {
    setKind(next);
    if (next === "none" || next === "literal") onPatch({ default: undefined });
    if (next === "formula") onPatch({ default: undefined });
    if (next === "linkage") onPatch({ default: linkageDefault(linkageOf(undefined)) });
  };
  const expr = defaultKind(field.default) === "formula" ? String((field.default as { expr: string }).expr ?? "") : "";
  return (
    <PropItem label={t("props.default")} property="default" issuesAt={issuesAt} testId="prop-default">
      <Radio.Group size="small" value={kind} onChange={(e) => choose(e.target.value as DefaultKind)} optionType="button" style={{ marginBottom: 6 }}>
        {kinds.map((k) => (
          <Radio.Button key={k} value={k}>
            <span data-testid={`default-kind-${k}`}>{t(`props.defaultKinds.${k}`)}</span>
          </Radio.Button>
        ))}
      </Radio.Group>
      {kind === "literal" && <LiteralInput field={field} onChange={(value) => onPatch({ default: value })} />}
      {kind === "formula" && (
        <FormulaEditor
          value={expr}
          onChange={(text) => onPatch({ default: text ? { expr: text } : undefined })}
          testId="prop-default-expr"
          context={context}
          placeholder="TODAY()"
        />
      )}
      {kind === "linkage" && <LinkageEditor field={field} context={context} onPatch={onPatch} />}
    </PropItem>
  );
}

/** An input of the field's own type for its literal default. */
function LiteralInput({ field, onChange }: { field: FieldDef; onChange(value: unknown): void }) {
  const { t, i18n } = useTranslation();
  const value = field.default;
  const options = (field.options ?? []).map((o) => ({ value: o.value, label: labelText(o.label, i18n.language, o.value) }));
  const testid = "prop-default";
  switch (field.type) {
    case "number":
    case "integer":
    case "money":
    case "percent":
    case "rating":
      return (
        <InputNumber
          style={{ width: "100%" }}
          value={typeof value === "number" ? value : typeof value === "string" && value !== "" ? Number(value) : null}
          precision={field.type === "integer" || field.type === "rating" ? 0 : undefined}
          onChange={(v) => onChange(v ?? undefined)}
          data-testid={testid}
        />
      );
    case "select":
      return <Select allowClear style={{ width: "100%" }} value={(value as string) ?? undefined} options={options} onChange={(v) => onChange(v ?? undefined)} data-testid={testid} />;
    case "multiselect":
      return (
        <Select mode="multiple" allowClear style={{ width: "100%" }} value={Array.isArray(value) ? value : []} options={options}
          onChange={(v: string[]) => onChange(v.length ? v : undefined)} data-testid={testid} />
      );
    case "checkbox":
      return (
        <Checkbox checked={value === true} onChange={(e) => onChange(e.target.checked || undefined)} data-testid={testid}>
          {t("props.checkedByDefault")}
        </Checkbox>
      );
    case "date":
      return (
        <DatePicker
          value={typeof value === "string" && value ? dayjs(value) : null}
          onChange={(d) => onChange(d ? d.format("YYYY-MM-DD") : undefined)}
          data-testid={testid}
        />
      );
    case "textarea":
      return <Input.TextArea rows={2} value={(value as string) ?? ""} onChange={(e) => onChange(e.target.value || undefined)} data-testid={testid} />;
    default:
      return (
        <Input
          value={value === undefined || value === null ? "" : String(value)}
          placeholder={field.type === "time" ? "09:00:00" : field.type === "datetime" ? "2024-06-30T09:00:00Z" : undefined}
          onChange={(e) => onChange(e.target.value || undefined)}
          data-testid={testid}
        />
      );
  }
}

/** Pick the other form, one to three conditions (their field = this form's field) and the field to take. */
function LinkageEditor({ field, context, onPatch }: Omit<Props, "issuesAt">) {
  const { t, i18n } = useTranslation();
  const lang = i18n.language === "en" ? "en" : "zh";
  const linkage = linkageOf(field.default);
  const set = (next: Linkage) => onPatch({ default: linkageDefault(next) });
  const source = context.app?.forms.find((f) => f.key === linkage.form);
  const theirs = (source?.fields ?? []).filter((f) => !["section", "subform"].includes(f.type));
  const ours = [...rowFields(context), ...context.formFields].filter((f) => f.key !== field.key && !["section", "subform"].includes(f.type));
  const theirOptions = [{ value: "_id", label: t("props.recordId") }, ...theirs.map((f) => ({ value: f.key, label: fieldLabel(f, lang) }))];
  const missing = linkageMissing(linkage);
  return (
    <div data-testid="prop-linkage" style={{ background: "#fafafa", padding: 8, borderRadius: 6 }}>
      <Typography.Text type="secondary" style={{ fontSize: 12 }}>{t("props.linkageFrom")}</Typography.Text>
      <Select
        style={{ width: "100%", marginBottom: 6 }}
        value={linkage.form || undefined}
        placeholder={t("props.pickForm")}
        options={(context.app?.forms ?? []).map((f) => ({ value: f.key, label: labelText(f.name, lang, f.key) }))}
        onChange={(form: string) => set(setLinkageForm(linkage, form))}
        data-testid="prop-linkage-form"
      />
      <Typography.Text type="secondary" style={{ fontSize: 12 }}>{t("props.linkageWhen")}</Typography.Text>
      {linkage.when.map((condition, i) => (
        <Space.Compact key={i} style={{ width: "100%", marginBottom: 4 }} data-testid={`linkage-condition-${i}`}>
          <Select
            style={{ width: "42%" }}
            value={condition.field || undefined}
            placeholder={t("props.theirField")}
            options={theirOptions}
            onChange={(v: string) => set(setCondition(linkage, i, { field: v }))}
            data-testid={`linkage-field-${i}`}
          />
          <Button disabled style={{ width: "10%", paddingInline: 0 }}>=</Button>
          <Select
            style={{ width: "38%" }}
            value={condition.equals || undefined}
            placeholder={t("props.ourField")}
            options={ours.map((f) => ({ value: f.key, label: fieldLabel(f, lang) }))}
            onChange={(v: string) => set(setCondition(linkage, i, { equals: v }))}
            data-testid={`linkage-equals-${i}`}
          />
          <Button
            style={{ width: "10%" }}
            icon={<DeleteOutlined />}
            disabled={linkage.when.length <= 1}
            aria-label={t("props.removeCondition")}
            onClick={() => set(removeCondition(linkage, i))}
            data-testid={`linkage-remove-${i}`}
          />
        </Space.Compact>
      ))}
      <Button size="small" icon={<PlusOutlined />} disabled={linkage.when.length >= MAX_LINKAGE_CONDITIONS} onClick={() => set(addCondition(linkage))} data-testid="linkage-add" style={{ marginBottom: 6 }}>
        {t("props.addCondition")}
      </Button>
      <div>
        <Typography.Text type="secondary" style={{ fontSize: 12 }}>{t("props.linkageTake")}</Typography.Text>
        <Select
          style={{ width: "100%" }}
          value={linkage.take || undefined}
          placeholder={t("props.theirField")}
          options={theirs.map((f) => ({ value: f.key, label: fieldLabel(f, lang) }))}
          onChange={(take: string) => set({ ...linkage, take })}
          data-testid="prop-linkage-take"
        />
      </div>
      {missing.length > 0 && <Alert style={{ marginTop: 6 }} type="warning" showIcon message={t("props.linkageIncomplete")} data-testid="prop-linkage-incomplete" />}
    </div>
  );
}
