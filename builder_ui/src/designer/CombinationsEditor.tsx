/**
 * 常用筛选与排序组合 · Frequent filter & sort combinations, in the form settings: the form's
 * `indexes` as a list of combinations, each an ordered list of 1–4 fields with a direction
 * (ascending / descending); add, reorder and remove fields, add and remove combinations. The
 * server's errors about a combination (`forms[i].indexes[n]`) or one of its fields
 * (`forms[i].indexes[n][m]`) show at it. State logic: combinations.ts.
 */
import { ArrowDownOutlined, ArrowUpOutlined, DeleteOutlined, MinusCircleOutlined, PlusOutlined } from "@ant-design/icons";
import { Alert, Button, Card, Divider, Form, Radio, Select, Space, Typography } from "antd";
import { useTranslation } from "react-i18next";
import type { FieldDef, Issue } from "../api/types";
import { labelText } from "../forms/labels";
import {
  addCombination,
  addCombinationField,
  canAddField,
  combinableFields,
  combinationIssues,
  moveCombinationField,
  parseEntry,
  removeCombination,
  removeCombinationField,
  setCombinationField,
  setDirection,
  type Combinations,
} from "./combinations";

interface Props {
  combinations: Combinations;
  onChange(combinations: Combinations): void;
  /** The draft form's fields. */
  fields: FieldDef[];
  /** The server's issues about the form's combinations (`forms[i].indexes...`). */
  issues: Issue[];
}

export default function CombinationsEditor({ combinations, onChange, fields, issues }: Props) {
  const { t, i18n } = useTranslation();
  const lang = i18n.language === "en" ? "en" : "zh";
  const combinable = combinableFields(fields);
  const nameOf = (key: string) => {
    const found = fields.find((f) => f.key === key);
    return found ? labelText(found.label, lang, key) : key;
  };
  return (
    <div data-testid="form-combinations">
      <Divider titlePlacement="start" plain>
        {t("canvas.combinations")}
      </Divider>
      <Typography.Paragraph type="secondary" style={{ fontSize: 12 }}>
        {t("canvas.combinationsHint")}
      </Typography.Paragraph>
      {combinations.map((combination, index) => {
        const { whole, byPlace } = combinationIssues(issues, index);
        const test = `form-combination-${index}`;
        return (
          <Card
            key={index}
            size="small"
            style={{ marginBottom: 8 }}
            title={`${t("canvas.combination")} ${index + 1}`}
            extra={
              <Button
                size="small"
                type="text"
                danger
                icon={<DeleteOutlined />}
                aria-label={t("canvas.removeCombination")}
                onClick={() => onChange(removeCombination(combinations, index))}
                data-testid={`${test}-remove`}
              />
            }
            data-testid={test}
          >
            {whole.map((i) => (
              <Alert key={i.path + i.code} type="error" title={i.message} style={{ marginBottom: 8 }} data-testid={`${test}-error`} />
            ))}
            {combination.map((raw, place) => {
              const { key, descending } = parseEntry(raw);
              const others = new Set(combination.map((r, i) => (i === place ? "" : parseEntry(r).key)));
              const options = combinable.filter((f) => !others.has(f.key)).map((f) => ({ value: f.key, label: labelText(f.label, lang, f.key) }));
              // A key that is no longer combinable (its type changed) stays visible, so the server's answer has something to point at.
              if (!options.some((o) => o.value === key)) options.unshift({ value: key, label: nameOf(key) });
              const problems = byPlace.get(place) ?? [];
              return (
                <Form.Item
                  key={place}
                  style={{ marginBottom: 8 }}
                  validateStatus={problems.length ? "error" : undefined}
                  help={problems.length ? <span data-testid={`${test}-field-${place}-error`}>{problems.map((i) => i.message).join("; ")}</span> : undefined}
                >
                  <Select
                    style={{ width: "100%" }}
                    value={key}
                    options={options}
                    prefix={`${place + 1}.`}
                    onChange={(next: string) => onChange(setCombinationField(combinations, index, place, next))}
                    data-testid={`${test}-field-${place}`}
                  />
                  <div style={{ display: "flex", justifyContent: "space-between", alignItems: "center", marginTop: 4 }}>
                    <span data-testid={`${test}-dir-${place}`}>
                      <Radio.Group
                        size="small"
                        optionType="button"
                        buttonStyle="solid"
                        value={descending ? "desc" : "asc"}
                        options={[
                          { value: "asc", label: t("canvas.ascending") },
                          { value: "desc", label: t("canvas.descending") },
                        ]}
                        onChange={(e) => onChange(setDirection(combinations, index, place, e.target.value === "desc"))}
                      />
                    </span>
                    <Space size={0}>
                      <Button size="small" type="text" icon={<ArrowUpOutlined />} disabled={place === 0} aria-label={t("designer.up")} onClick={() => onChange(moveCombinationField(combinations, index, place, -1))} data-testid={`${test}-up-${place}`} />
                      <Button
                        size="small"
                        type="text"
                        icon={<ArrowDownOutlined />}
                        disabled={place === combination.length - 1}
                        aria-label={t("designer.down")}
                        onClick={() => onChange(moveCombinationField(combinations, index, place, 1))}
                        data-testid={`${test}-down-${place}`}
                      />
                      <Button
                        size="small"
                        type="text"
                        icon={<MinusCircleOutlined />}
                        aria-label={t("canvas.removeCombinationField")}
                        onClick={() => onChange(removeCombinationField(combinations, index, place))}
                        data-testid={`${test}-remove-field-${place}`}
                      />
                    </Space>
                  </div>
                </Form.Item>
              );
            })}
            <Button size="small" type="dashed" icon={<PlusOutlined />} disabled={!canAddField(combinations, index, fields)} onClick={() => onChange(addCombinationField(combinations, index, fields))} data-testid={`${test}-add-field`}>
              {t("canvas.addCombinationField")}
            </Button>
          </Card>
        );
      })}
      {combinable.length === 0 && <Typography.Paragraph type="secondary">{t("canvas.noCombinable")}</Typography.Paragraph>}
      <Button icon={<PlusOutlined />} disabled={combinable.length === 0} onClick={() => onChange(addCombination(combinations, fields))} data-testid="form-combination-add">
        {t("canvas.addCombination")}
      </Button>
    </div>
  );
}
