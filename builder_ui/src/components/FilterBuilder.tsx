/** Edits a filter as conditions (field, operator, value) joined by AND or OR. */
import { DeleteOutlined, PlusOutlined } from "@ant-design/icons";
import { Button, DatePicker, Input, Radio, Select, Space } from "antd";
import dayjs from "dayjs";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import type { FieldDef } from "../api/types";
import { filterOperators } from "../forms/fieldTypes";
import type { Condition, FilterModel, Operator } from "../forms/filter";
import { fieldLabel, labelText } from "../forms/labels";

interface Props {
  fields: FieldDef[];
  value: FilterModel;
  onApply(model: FilterModel): void;
}

function ValueInput({ field, condition, onChange }: { field?: FieldDef; condition: Condition; onChange(v: Condition["value"]): void }) {
  const { t, i18n } = useTranslation();
  if (!field || condition.op === "blank" || condition.op === "notBlank") return null;
  if (field.type === "select")
    return (
      <Select
        style={{ minWidth: 140 }}
        value={condition.value as string | undefined}
        onChange={onChange}
        options={(field.options ?? []).map((o) => ({ value: o.value, label: labelText(o.label, i18n.language, o.value) }))}
        data-testid="filter-value"
        aria-label={t("grid.value")}
      />
    );
  if (field.type === "checkbox")
    return (
      <Select
        style={{ minWidth: 100 }}
        value={condition.value as boolean | undefined}
        onChange={onChange}
        options={[
          { value: true, label: t("fill.yes") },
          { value: false, label: t("fill.no") },
        ]}
      />
    );
  if (field.type === "date")
    return (
      <DatePicker
        value={condition.value ? dayjs(String(condition.value)) : null}
        onChange={(d) => onChange(d ? d.format("YYYY-MM-DD") : null)}
      />
    );
  return (
    <Input
      style={{ width: 160 }}
      value={(condition.value as string | undefined) ?? ""}
      onChange={(e) => onChange(e.target.value)}
      placeholder={t("grid.value")}
      data-testid="filter-value"
    />
  );
}

export default function FilterBuilder({ fields, value, onApply }: Props) {
  const { t, i18n } = useTranslation();
  const [model, setModel] = useState<FilterModel>(value);
  const filterable = fields.filter((f) => filterOperators(f).length > 0);
  const byKey = new Map(filterable.map((f) => [f.key, f]));
  const update = (index: number, patch: Partial<Condition>) =>
    setModel({ ...model, conditions: model.conditions.map((c, i) => (i === index ? { ...c, ...patch } : c)) });

  return (
    <div style={{ maxWidth: "90vw" }} data-testid="filter-builder">
      <Radio.Group
        size="small"
        value={model.join}
        onChange={(e) => setModel({ ...model, join: e.target.value })}
        options={[
          { value: "AND", label: t("grid.and") },
          { value: "OR", label: t("grid.or") },
        ]}
        style={{ marginBottom: 8 }}
      />
      {model.conditions.map((condition, index) => {
        const field = byKey.get(condition.field);
        return (
          <Space key={index} wrap style={{ display: "flex", marginBottom: 8 }} data-testid={`condition-${index}`}>
            <Select
              style={{ minWidth: 140 }}
              value={condition.field || undefined}
              placeholder={t("grid.field")}
              onChange={(key: string) => update(index, { field: key, op: filterOperators(byKey.get(key)!)[0] as Operator, value: undefined })}
              options={filterable.map((f) => ({ value: f.key, label: fieldLabel(f, i18n.language) }))}
              showSearch={{ optionFilterProp: "label" }}
              data-testid="filter-field"
            />
            <Select
              style={{ minWidth: 110 }}
              value={condition.op}
              onChange={(op: Operator) => update(index, { op })}
              options={(field ? filterOperators(field) : []).map((op) => ({ value: op, label: t(`ops.${op}`) }))}
              data-testid="filter-op"
            />
            <ValueInput field={field} condition={condition} onChange={(v) => update(index, { value: v })} />
            <Button
              icon={<DeleteOutlined />}
              type="text"
              onClick={() => setModel({ ...model, conditions: model.conditions.filter((_, i) => i !== index) })}
            />
          </Space>
        );
      })}
      <Space>
        <Button
          icon={<PlusOutlined />}
          onClick={() => setModel({ ...model, conditions: [...model.conditions, { field: "", op: "eq" }] })}
          data-testid="filter-add"
        >
          {t("grid.addCondition")}
        </Button>
        <Button onClick={() => { const empty: FilterModel = { join: "AND", conditions: [] }; setModel(empty); onApply(empty); }}>
          {t("grid.clear")}
        </Button>
        <Button type="primary" onClick={() => onApply(model)} data-testid="filter-apply">
          {t("grid.apply")}
        </Button>
      </Space>
    </div>
  );
}
