/**
 * The settings only some field types have, as their specs define them: a relation's target form
 * and to-many, a lookup's relation and field, a rollup's relation or subform, field and
 * aggregate, a subform's row count, a serial's pattern, a money field's currency, decimal
 * places, a rating's stars and an address's level.
 */
import { AutoComplete, Checkbox, InputNumber, Input, Select, Space, Typography } from "antd";
import { useTranslation } from "react-i18next";
import type { FieldDef } from "../../api/types";
import { fieldLabel, labelText } from "../../forms/labels";
import { aggregatesFor, CURRENCIES, fieldsBehind, lookupVias, rollupVias, serialSample } from "../properties";
import type { DesignContext } from "./context";
import { rowFields } from "./context";
import PropItem, { type IssuesAt } from "./PropItem";

const PRECISION_TYPES = new Set(["number", "money", "percent", "formula"]);

interface Props {
  field: FieldDef;
  context: DesignContext;
  issuesAt: IssuesAt;
  onPatch(change: Partial<FieldDef>): void;
}

export default function TypeSettings({ field, context, issuesAt, onPatch }: Props) {
  const { t, i18n } = useTranslation();
  const lang = i18n.language === "en" ? "en" : "zh";
  const siblings = context.subform ? rowFields(context) : context.formFields;
  const fieldOptions = (fields: FieldDef[]) =>
    fields.filter((f) => f.type !== "section").map((f) => ({ value: f.key, label: `${fieldLabel(f, lang)} (${f.key})` }));
  const item = (label: string, property: string, testId: string, child: React.ReactNode, extra?: React.ReactNode) => (
    <PropItem label={label} property={property} issuesAt={issuesAt} testId={testId} extra={extra}>
      {child}
    </PropItem>
  );

  switch (field.type) {
    case "relation":
      return (
        <>
          {item(
            t("props.target"),
            "target",
            "prop-target",
            <Select
              value={field.target || undefined}
              placeholder={t("props.pickForm")}
              options={(context.app?.forms ?? []).map((f) => ({ value: f.key, label: `${labelText(f.name, lang, f.key)} (${f.key})` }))}
              onChange={(target: string) => onPatch({ target })}
              data-testid="prop-target"
            />,
          )}
          <Checkbox checked={!!field.many} onChange={(e) => onPatch({ many: e.target.checked })} data-testid="prop-many" style={{ marginBottom: 12 }}>
            {t("props.many")}
          </Checkbox>
        </>
      );
    case "lookup":
    case "rollup": {
      const vias = field.type === "lookup" ? lookupVias(siblings) : rollupVias(siblings);
      const via = siblings.find((f) => f.key === field.relation);
      const behind = fieldsBehind(via, context.app);
      const picked = behind.find((f) => f.key === field.field);
      return (
        <>
          {item(
            field.type === "lookup" ? t("props.lookupVia") : t("props.rollupVia"),
            "relation",
            "prop-relation",
            <Select
              value={(field.relation as string) || undefined}
              placeholder={t("props.pickField")}
              notFoundContent={t("props.noRelation")}
              options={fieldOptions(vias)}
              onChange={(relation: string) => onPatch({ relation, field: undefined })}
              data-testid="prop-relation"
            />,
          )}
          {item(
            field.type === "lookup" ? t("props.lookupField") : t("props.rollupField"),
            "field",
            "prop-through-field",
            <Select
              value={(field.field as string) || undefined}
              placeholder={t("props.pickField")}
              options={fieldOptions(behind)}
              onChange={(key: string) => onPatch({ field: key })}
              data-testid="prop-through-field"
            />,
          )}
          {field.type === "rollup" &&
            item(
              t("props.aggregate"),
              "aggregate",
              "prop-aggregate",
              <Select
                value={(field.aggregate as string) || undefined}
                options={aggregatesFor(picked?.type).map((a) => ({ value: a, label: t(`props.aggregates.${a}`) }))}
                onChange={(aggregate: string) => onPatch({ aggregate })}
                data-testid="prop-aggregate"
              />,
            )}
        </>
      );
    }
    case "subform":
      return item(
        t("props.rows"),
        "min",
        "prop-rows",
        <Space>
          <InputNumber min={0} precision={0} placeholder={t("props.min")} value={field.min} onChange={(v) => onPatch({ min: v ?? undefined })} data-testid="prop-min-rows" />
          <span>–</span>
          <InputNumber min={0} precision={0} placeholder={t("props.max")} value={field.max} onChange={(v) => onPatch({ max: v ?? undefined })} data-testid="prop-max-rows" />
        </Space>,
      );
    case "serial": {
      const pattern = String(field.pattern ?? "");
      return item(
        t("props.serialPattern"),
        "pattern",
        "prop-serial-pattern",
        <Input value={pattern} onChange={(e) => onPatch({ pattern: e.target.value })} data-testid="prop-serial-pattern" />,
        <>
          {t("props.serialHint")}
          {pattern && (
            <div>
              {t("props.sample")}: <Typography.Text code data-testid="prop-serial-sample">{serialSample(pattern, new Date())}</Typography.Text>
            </div>
          )}
        </>,
      );
    }
    case "rating":
      return item(
        t("props.stars"),
        "max",
        "prop-stars",
        <InputNumber min={1} max={10} precision={0} value={field.max ?? 5} onChange={(v) => onPatch({ max: v ?? undefined })} data-testid="prop-stars" />,
      );
    case "address":
      return item(
        t("props.addressLevel"),
        "level",
        "prop-address-level",
        <Select
          value={(field.level as string) ?? "detail"}
          options={["province", "city", "district", "detail"].map((level) => ({ value: level, label: t(`props.levels.${level}`) }))}
          onChange={(level: string) => onPatch({ level })}
          data-testid="prop-address-level"
        />,
      );
    default:
      return null;
  }
}

/** Decimal places (number, money, percent, formula) and a money field's currency. */
export function NumberSettings({ field, issuesAt, onPatch }: Omit<Props, "context">) {
  const { t } = useTranslation();
  return (
    <>
      {field.type === "money" && (
        <PropItem label={t("props.currency")} property="currency" issuesAt={issuesAt} testId="prop-currency">
          <AutoComplete
            value={field.currency ?? "CNY"}
            options={CURRENCIES.map((c) => ({ value: c, label: `${c} · ${t(`props.currencies.${c}`)}` }))}
            onChange={(v: string) => onPatch({ currency: v.toUpperCase() || undefined })}
            filterOption={(input, option) => String(option?.value ?? "").includes(input.toUpperCase())}
            data-testid="prop-currency"
          />
        </PropItem>
      )}
      {PRECISION_TYPES.has(field.type) && (
        <PropItem label={t("designer.precision")} property="precision" issuesAt={issuesAt} testId="prop-precision">
          <InputNumber min={0} max={field.type === "percent" ? 8 : 10} value={field.precision} onChange={(v) => onPatch({ precision: v ?? undefined })} data-testid="prop-precision" />
        </PropItem>
      )}
    </>
  );
}
