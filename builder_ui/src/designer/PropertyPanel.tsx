/**
 * The designer's property panel: every setting of the selected field — labels, key, type,
 * required/unique, "used often to filter and sort" (index), help, layout width, the type's own settings (props/TypeSettings), options
 * (props/OptionsTable), formula, default (literal, formula or data linkage), limits and the
 * show/read-only conditions (props/FormulaEditor) — with the server's definition errors shown
 * at the property they concern.
 */
import { Alert, App, Card, Checkbox, Divider, Form, Grid, Input, Select, Space, Switch, Typography } from "antd";
import { useRef } from "react";
import { useTranslation } from "react-i18next";
import { useParams } from "react-router";
import type { AppDef, FieldDef, Issue } from "../api/types";
import { labelText } from "../forms/labels";
import { SELECT_DISPLAYS } from "../forms/selectDisplay";
import { useApp } from "../pages/appContext";
import { isIndexable, isValueField, WIDTHS } from "./properties";
import type { DesignContext } from "./props/context";
import DefaultEditor from "./props/DefaultEditor";
import FormulaEditor from "./props/FormulaEditor";
import LimitsEditor from "./props/LimitsEditor";
import OptionsTable from "./props/OptionsTable";
import PropItem from "./props/PropItem";
import TypeSettings, { NumberSettings } from "./props/TypeSettings";
import { followKey, relabel } from "./keys";
import { keyUses, type KeyUse } from "./keyUses";
import { changeType, issueProperty, setLabel, type PaletteType } from "./state";

const OPTION_TYPES = new Set(["select", "multiselect"]);

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
  /** The app (other forms for relations, lookups, linkage); by default the page's app. */
  app?: AppDef;
  /** The key of the form being designed; by default the page's `:form`. */
  formKey?: string;
  /** The whole form's draft fields when `fields` are a subform's; by default `fields`. */
  formFields?: FieldDef[];
  /** The key of the subform whose row the field belongs to, when it does. */
  subform?: string;
  /** The option values the field has published (they keep their values when relabelled). */
  publishedOptions?: string[];
}

export default function PropertyPanel(props: PropertyPanelProps) {
  const { field, fields, kinds, issues: fieldIssues, keyFixed, onPatch, onReplace } = props;
  const { t, i18n } = useTranslation();
  const lang = i18n.language === "en" ? "en" : "zh";
  const outlet = useApp() as { app?: AppDef } | null | undefined;
  const params = useParams();
  const context: DesignContext = {
    app: props.app ?? outlet?.app,
    formKey: props.formKey ?? params.form,
    formFields: props.formFields ?? fields,
    subform: props.subform,
    fieldKey: field?.key,
  };
  const { message } = App.useApp();
  const issueAt = (property: string) => fieldIssues.filter((i) => issueProperty(i) === property).map((i) => i.message);
  // Side by side with the canvas (md and up) the panel keeps to the window and scrolls on its
  // own, so a long panel neither stretches the page nor scrolls away from the selected field.
  const screens = Grid.useBreakpoint();
  const labelAtFocus = useRef<FieldDef["label"]>(undefined);
  // The panel's inputs are reset when another field is selected, but not when this panel
  // renames the field (its key following the label): the input being typed in keeps focus.
  const renamedTo = useRef<string | null>(null);
  const instance = useRef<{ key?: string; id?: string }>({});
  if (field && field.key !== instance.current.key) {
    instance.current = { key: field.key, id: renamedTo.current === field.key ? instance.current.id : field.key };
    renamedTo.current = null;
  }
  const cardStyle = screens.md ? { position: "sticky" as const, top: 12 } : undefined;
  const bodyStyle = screens.md ? { maxHeight: "calc(100vh - 84px)", overflowY: "auto" as const } : undefined;
  if (!field) {
    return (
      <Card size="small" title={t("designer.properties")} data-testid="designer-properties">
        <Typography.Text type="secondary">{t("designer.select")}</Typography.Text>
      </Card>
    );
  }
  const valueField = isValueField(field.type);
  const publishedOptions = new Set(props.publishedOptions ?? []);
  const typeTitle = kinds.get(field.type)?.title;
  // The key follows the label when the label input is left (not per keystroke: the panel is
  // keyed by the field's key), while it is still generated and not published.
  // A key the draft's formulas, conditions, lookups or linkage still name is not renamed
  // (designer/keyUses.ts): following the label keeps it; typing a new one is refused, saying where.
  const uses = (): KeyUse[] => {
    const form = context.app?.forms.find((f) => f.key === context.formKey);
    const draft = { fields: props.subform ? (props.formFields ?? []) : fields, validations: form?.validations };
    return keyUses(draft, field.key, props.subform);
  };
  const usePlace = (use: KeyUse) => {
    const holder = use.field === null ? undefined : (use.subform ? (props.formFields ?? []).find((f) => f.key === use.subform)?.fields : props.subform ? props.formFields : fields)?.find((f) => f.key === use.field);
    const name = use.field === null ? t("daily16.formValidations") : labelText(holder?.label, lang, use.field);
    return t("daily16.keyUsePlace", { name, property: t(`daily16.keyUse_${use.property}`) });
  };
  const keyFollowsLabel = () => {
    const taken = [...fields.map((f) => f.key), ...(props.subform ? (props.formFields ?? []).map((f) => f.key) : [])];
    const key = followKey(field, labelAtFocus.current, taken, keyFixed);
    if (key === field.key || uses().length > 0) return;
    renamedTo.current = key;
    onReplace({ ...field, key });
  };
  return (
    <Card size="small" title={t("designer.properties")} data-testid="designer-properties" style={cardStyle} styles={{ body: bodyStyle }}>
      <Form layout="vertical" size="small" key={instance.current.id}>
        {fieldIssues.filter((i) => !issueProperty(i)).map((i) => (
          <Alert key={i.path + i.code} type="error" message={i.message} style={{ marginBottom: 8 }} />
        ))}
        <Form.Item label={t("designer.labelZh")}>
          <Input
            value={labelText(field.label, "zh", "")}
            onFocus={() => (labelAtFocus.current = field.label)}
            onBlur={keyFollowsLabel}
            onChange={(e) => onPatch({ label: relabel(field, "zh", e.target.value, typeTitle) })}
            data-testid="prop-label-zh"
          />
        </Form.Item>
        <Form.Item label={t("designer.labelEn")}>
          <Input
            value={typeof field.label === "object" && field.label ? (field.label.en ?? "") : ""}
            onFocus={() => (labelAtFocus.current = field.label)}
            onBlur={keyFollowsLabel}
            onChange={(e) => onPatch({ label: relabel(field, "en", e.target.value, typeTitle) })}
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
              const found = uses();
              if (found.length > 0) {
                const places = found.map(usePlace).join(lang === "en" ? "; " : "；");
                message.warning({ content: t("daily16.keyInUse", { key: field.key, places }), key: "key-in-use" });
                return;
              }
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
        {(valueField || field.type === "subform") && (
          <Space style={{ marginBottom: 12 }}>
            <Checkbox checked={!!field.required} onChange={(e) => onPatch({ required: e.target.checked })} data-testid="prop-required">
              {t("designer.required")}
            </Checkbox>
            {valueField && (
              <Checkbox checked={!!field.unique} onChange={(e) => onPatch({ unique: e.target.checked })} data-testid="prop-unique">
                {t("designer.unique")}
              </Checkbox>
            )}
          </Space>
        )}
        {isIndexable(field) && (
          <PropItem label={t("designer.index")} property="index" issuesAt={issueAt} extra={t("designer.indexHint")} testId="prop-index">
            <Switch checked={!!field.index} onChange={(on) => onPatch({ index: on ? true : undefined })} data-testid="prop-index" />
          </PropItem>
        )}
        <Form.Item label={t("designer.help")}>
          <Input value={labelText(field.help, lang, "")} onChange={(e) => onPatch({ help: e.target.value ? setLabel(field.help, lang, e.target.value) : undefined })} data-testid="prop-help" />
        </Form.Item>
        <PropItem label={t("props.width")} property="width" issuesAt={issueAt} testId="prop-width">
          <Select
            value={field.width ?? "full"}
            options={WIDTHS.map((w) => ({ value: w, label: t(`props.widths.${w}`) }))}
            onChange={(width: FieldDef["width"]) => onPatch({ width: width === "full" ? undefined : width })}
            data-testid="prop-width"
          />
        </PropItem>

        <TypeSettings field={field} context={context} issuesAt={issueAt} onPatch={onPatch} />
        <NumberSettings field={field} issuesAt={issueAt} onPatch={onPatch} />
        {OPTION_TYPES.has(field.type) && (
          <PropItem label={t("designer.options")} property="options" issuesAt={issueAt} testId="prop-options">
            <OptionsTable options={field.options} fixed={publishedOptions} onChange={(options) => onPatch({ options })} />
          </PropItem>
        )}
        {field.type === "select" && (
          <PropItem label={t("designFix.display")} property="display" issuesAt={issueAt} testId="prop-display">
            <Select
              value={(field.display as string | undefined) ?? "auto"}
              options={SELECT_DISPLAYS.map((d) => ({ value: d, label: t(`designFix.displays.${d}`) }))}
              onChange={(display: string) => onPatch({ display: display === "auto" ? undefined : display })}
              data-testid="prop-display"
            />
          </PropItem>
        )}
        {field.type === "formula" && (
          <PropItem label={t("designer.expr")} property="expr" issuesAt={issueAt} testId="prop-expr">
            <FormulaEditor value={String(field.expr ?? "")} onChange={(expr) => onPatch({ expr })} testId="prop-expr" context={context} placeholder="amount * 2" />
          </PropItem>
        )}

        {valueField && (
          <>
            <Divider plain style={{ margin: "8px 0" }}>{t("props.valueRules")}</Divider>
            <DefaultEditor key={`default-${field.type}`} field={field} context={context} issuesAt={issueAt} onPatch={onPatch} />
            <LimitsEditor field={field} issuesAt={issueAt} onPatch={onPatch} />
          </>
        )}

        <Divider plain style={{ margin: "8px 0" }}>{t("props.conditions")}</Divider>
        <PropItem label={t("designer.visibleWhen")} property="visible_when" issuesAt={issueAt} testId="prop-visible_when">
          <FormulaEditor
            value={field.visible_when ?? ""}
            onChange={(visible_when) => onPatch({ visible_when })}
            testId="prop-visible_when"
            context={context}
            placeholder='status = "open"'
            rows={1}
          />
        </PropItem>
        {(valueField || field.type === "subform") && (
          <PropItem label={t("props.readonlyWhen")} property="readonly_when" issuesAt={issueAt} testId="prop-readonly_when">
            <FormulaEditor
              value={field.readonly_when ?? ""}
              onChange={(readonly_when) => onPatch({ readonly_when })}
              testId="prop-readonly_when"
              context={context}
              placeholder='status = "closed"'
              rows={1}
            />
          </PropItem>
        )}
      </Form>
    </Card>
  );
}
