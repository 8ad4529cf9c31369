/**
 * The designer's property panel: every setting of the selected field (labels, key, type,
 * required/unique, help, options, precision, formula, show rule), with the server's
 * definition errors shown at the property they concern.
 */
import { Alert, Card, Checkbox, Form, Input, InputNumber, Select, Space, Typography } from "antd";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import type { FieldDef, Issue, SelectOption } from "../api/types";
import { labelText } from "../forms/labels";
import { changeType, issueProperty, setLabel, type PaletteType } from "./state";

const OPTION_TYPES = new Set(["select", "multiselect"]);
const PRECISION_TYPES = new Set(["number", "money", "percent", "formula"]);

/** Options as lines `value|中文|English`, the way the options box edits them. */
function optionsText(options: SelectOption[] | undefined): string {
  return (options ?? [])
    .map((o) => {
      const label = typeof o.label === "string" ? { zh: o.label } : (o.label ?? {});
      return [o.value, label.zh ?? "", label.en ?? ""].join("|");
    })
    .join("\n");
}

function parseOptions(text: string): SelectOption[] {
  return text
    .split("\n")
    .map((line) => line.split("|").map((part) => part.trim()))
    .filter(([value]) => value)
    .map(([value, zh, en]) => ({ value, label: { zh: zh || value, en: en || zh || value } }));
}

export interface PropertyPanelProps {
  /** The selected field, or undefined when nothing is selected. */
  field: FieldDef | undefined;
  /** The fields next to it (the form's, or the subform's for a subform field), for key checks. */
  fields: FieldDef[];
  /** Field types by name, from the palette. */
  kinds: Map<string, PaletteType>;
  /** The server's definition errors about this field. */
  issues: Issue[];
  /** The key is published and can no longer change. */
  keyFixed: boolean;
  /** Changes some properties of the field. */
  onPatch: (change: Partial<FieldDef>) => void;
  /** Replaces the field as a whole (new key or new type). */
  onReplace: (next: FieldDef) => void;
}

export default function PropertyPanel({ field, fields, kinds, issues: fieldIssues, keyFixed, onPatch, onReplace }: PropertyPanelProps) {
  const { t, i18n } = useTranslation();
  const lang = i18n.language === "en" ? "en" : "zh";
  const issueAt = (property: string) => fieldIssues.filter((i) => issueProperty(i) === property).map((i) => i.message);
  return (
    <Card size="small" title={t("designer.properties")} data-testid="designer-properties">
      {!field ? (
        <Typography.Text type="secondary">{t("designer.select")}</Typography.Text>
      ) : (
        <Form layout="vertical" size="small" key={field.key}>
          {fieldIssues.filter((i) => !issueProperty(i)).map((i) => (
            <Alert key={i.path + i.code} type="error" message={i.message} style={{ marginBottom: 8 }} />
          ))}
          <Form.Item label={t("designer.labelZh")}>
            <Input value={labelText(field.label, "zh", "")} onChange={(e) => onPatch({ label: setLabel(field.label, "zh", e.target.value) })} data-testid="prop-label-zh" />
          </Form.Item>
          <Form.Item label={t("designer.labelEn")}>
            <Input
              value={typeof field.label === "object" && field.label ? (field.label.en ?? "") : ""}
              onChange={(e) => onPatch({ label: setLabel(field.label, "en", e.target.value) })}
              data-testid="prop-label-en"
            />
          </Form.Item>
          <Form.Item
            label={t("designer.key")}
            help={issueAt("key").join("; ") || (keyFixed ? t("designer.keyFixed") : undefined)}
            validateStatus={issueAt("key").length ? "error" : undefined}
          >
            <Input
              value={field.key}
              disabled={keyFixed}
              onChange={(e) => {
                const key = e.target.value.trim();
                if (!key || fields.some((f) => f.key === key)) return;
                onReplace({ ...field, key });
              }}
              data-testid="prop-key"
            />
          </Form.Item>
          <Form.Item label={t("designer.type")}>
            <Select
              value={field.type}
              showSearch={{ optionFilterProp: "label" }}
              options={[...kinds.values()].map((k) => ({ value: k.type, label: labelText(k.title, lang, k.type) }))}
              onChange={(type: string) => {
                const kind = kinds.get(type);
                if (kind) onReplace(changeType(field, kind));
              }}
              data-testid="prop-type"
            />
          </Form.Item>
          <Space>
            <Checkbox checked={!!field.required} onChange={(e) => onPatch({ required: e.target.checked })} data-testid="prop-required">
              {t("designer.required")}
            </Checkbox>
            <Checkbox checked={!!field.unique} onChange={(e) => onPatch({ unique: e.target.checked })} data-testid="prop-unique">
              {t("designer.unique")}
            </Checkbox>
          </Space>
          <Form.Item label={t("designer.help")} style={{ marginTop: 12 }}>
            <Input value={labelText(field.help, lang, "")} onChange={(e) => onPatch({ help: e.target.value ? setLabel(field.help, lang, e.target.value) : undefined })} data-testid="prop-help" />
          </Form.Item>
          {OPTION_TYPES.has(field.type) && (
            <Form.Item label={t("designer.options")} extra={t("designer.optionsHint")} validateStatus={issueAt("options").length ? "error" : undefined} help={issueAt("options").join("; ") || undefined}>
              <OptionsBox options={field.options} onChange={(options) => onPatch({ options })} />
            </Form.Item>
          )}
          {PRECISION_TYPES.has(field.type) && (
            <Form.Item label={t("designer.precision")} validateStatus={issueAt("precision").length ? "error" : undefined} help={issueAt("precision").join("; ") || undefined}>
              <InputNumber min={0} max={10} value={field.precision} onChange={(v) => onPatch({ precision: v ?? undefined })} data-testid="prop-precision" />
            </Form.Item>
          )}
          {field.type === "formula" && (
            <Form.Item label={t("designer.expr")} validateStatus={issueAt("expr").length ? "error" : undefined} help={issueAt("expr").join("; ") || undefined}>
              <Input.TextArea rows={2} value={String(field.expr ?? "")} onChange={(e) => onPatch({ expr: e.target.value })} data-testid="prop-expr" />
            </Form.Item>
          )}
          <Form.Item label={t("designer.visibleWhen")} validateStatus={issueAt("visible_when").length ? "error" : undefined} help={issueAt("visible_when").join("; ") || undefined}>
            <Input value={field.visible_when ?? ""} onChange={(e) => onPatch({ visible_when: e.target.value })} placeholder='status = "open"' data-testid="prop-visible_when" />
          </Form.Item>
        </Form>
      )}
    </Card>
  );
}

/** The options of a select as `value|中文|English` lines; the text is kept while typing. */
function OptionsBox({ options, onChange }: { options?: SelectOption[]; onChange: (options: SelectOption[]) => void }) {
  const [text, setText] = useState(() => optionsText(options));
  return (
    <Input.TextArea
      rows={4}
      value={text}
      onChange={(e) => {
        setText(e.target.value);
        onChange(parseOptions(e.target.value));
      }}
      data-testid="prop-options"
    />
  );
}
