/** A record value rendered for reading: coloured tags for options, text for the rest. */
import { Table, Tag } from "antd";
import { useTranslation } from "react-i18next";
import type { FieldDef } from "../api/types";
import { displayText } from "../forms/display";
import { fieldLabel, optionLabel } from "../forms/labels";

/** `compact` (grid cells): subforms as a row count instead of a table. */
export default function FieldValue({ field, value, compact = false }: { field: FieldDef; value: unknown; compact?: boolean }) {
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
  if (field.type === "subform" && Array.isArray(value) && compact) return <>{t("fill.rows", { count: value.length })}</>;
  if (field.type === "subform" && Array.isArray(value)) {
    const columns = (field.fields ?? []).map((sub) => ({
      key: sub.key,
      dataIndex: sub.key,
      title: fieldLabel(sub, i18n.language),
      render: (v: unknown) => <FieldValue field={sub} value={v} />,
    }));
    return (
      <Table
        size="small"
        rowKey={(row: Record<string, unknown>) => String(row._id)}
        columns={columns}
        dataSource={value as Record<string, unknown>[]}
        pagination={false}
        scroll={{ x: "max-content" }}
      />
    );
  }
  return <>{displayText(field, value, i18n.language, t("fill.yes"), t("fill.no"))}</>;
}
