/**
 * `min`/`max` (a number's value, a text's length or a multi-valued field's count, as the
 * field's type says) and `pattern` (a regular expression, with presets) of a field.
 */
import { AutoComplete, InputNumber, Space } from "antd";
import { useTranslation } from "react-i18next";
import type { FieldDef } from "../../api/types";
import { hasPattern, limitKind, PATTERN_PRESETS } from "../properties";
import PropItem, { type IssuesAt } from "./PropItem";

export default function LimitsEditor({ field, issuesAt, onPatch }: { field: FieldDef; issuesAt: IssuesAt; onPatch(change: Partial<FieldDef>): void }) {
  const { t } = useTranslation();
  const kind = limitKind(field.type);
  const whole = kind !== "value" || field.type === "integer";
  return (
    <>
      {kind && (
        <PropItem label={t(`props.limits.${kind}`)} property={["min", "max"]} issuesAt={issuesAt} testId="prop-limits">
          <Space>
            <InputNumber
              min={kind === "value" ? undefined : 0}
              precision={whole ? 0 : undefined}
              placeholder={t("props.min")}
              value={field.min}
              onChange={(v) => onPatch({ min: v ?? undefined })}
              data-testid="prop-min"
            />
            <span>–</span>
            <InputNumber
              min={kind === "value" ? undefined : 0}
              precision={whole ? 0 : undefined}
              placeholder={t("props.max")}
              value={field.max}
              onChange={(v) => onPatch({ max: v ?? undefined })}
              data-testid="prop-max"
            />
          </Space>
        </PropItem>
      )}
      {hasPattern(field.type) && (
        <PropItem label={t("props.pattern")} property="pattern" issuesAt={issuesAt} testId="prop-pattern" extra={t("props.patternHint")}>
          <AutoComplete
            value={(field.pattern as string) ?? ""}
            options={PATTERN_PRESETS.map((p) => ({ value: p.pattern, label: `${t(`props.patterns.${p.name}`)} · ${p.pattern}` }))}
            onChange={(v: string) => onPatch({ pattern: v || undefined })}
            placeholder="[0-9]+"
            data-testid="prop-pattern"
          />
        </PropItem>
      )}
    </>
  );
}
