/** A record value rendered for reading: coloured tags for options, text for the rest. */
import { Tag } from "antd";
import { useTranslation } from "react-i18next";
import type { FieldDef } from "../api/types";
import { displayText } from "../forms/display";
import { optionLabel } from "../forms/labels";

export default function FieldValue({ field, value }: { field: FieldDef; value: unknown }) {
  const { t, i18n } = useTranslation();
  if (value === null || value === undefined) return null;
  if (field.type === "select" || field.type === "multiselect") {
    const values = Array.isArray(value) ? value : [value];
    return (
      <>
        {values.map((v) => (
          <Tag key={String(v)} color={field.options?.find((o) => o.value === v)?.color}>
            {optionLabel(field.options, v, i18n.language)}
          </Tag>
        ))}
      </>
    );
  }
  return <>{displayText(field, value, i18n.language, t("fill.yes"), t("fill.no"))}</>;
}
