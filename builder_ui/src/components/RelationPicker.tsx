/** Picks records of a relation's target form, searching their titles on the server (`q=`). */
import { useQuery } from "@tanstack/react-query";
import { Select } from "antd";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { api } from "../api/client";
import type { AppDef, FieldDef } from "../api/types";
import { displayText, relationTitle } from "../forms/display";

type Ref = { _id: number; title?: string | null; restricted?: boolean };

interface Props {
  app: AppDef;
  field: FieldDef;
  value: Ref | Ref[] | null | undefined;
  onChange(value: Ref | Ref[] | null): void;
  disabled?: boolean;
  autoFocus?: boolean;
}

export default function RelationPicker({ app, field, value, onChange, disabled, autoFocus }: Props) {
  const { t, i18n } = useTranslation();
  const [q, setQ] = useState("");
  const [opened, setOpened] = useState(false);
  const target = app.forms.find((f) => f.key === field.target);
  const titleField = target?.fields.find((f) => f.key === target.title_field);
  const found = useQuery({
    queryKey: ["relation", app.key, field.target, q],
    queryFn: () => api.records(app.key, field.target!, { q, limit: 20 }),
    enabled: opened && !!target,
  });
  const title = (record: Record<string, unknown>) =>
    (titleField ? displayText(titleField, record[titleField.key], i18n.language) : "") || `#${record._id}`;
  const options = (found.data?.items ?? []).map((r) => ({ value: r._id, label: title(r) }));
  const many = !!field.many;
  const refs = Array.isArray(value) ? value : value ? [value] : [];
  // A linked record the caller may not read shows 无权限; it may stay (it is saved unchanged).
  const current = refs.map((r) => ({ value: r._id, label: relationTitle(r, i18n.language) }));
  return (
    <Select
      showSearch={{ filterOption: false, onSearch: setQ }}
      labelInValue
      allowClear
      mode={many ? "multiple" : undefined}
      disabled={disabled}
      autoFocus={autoFocus}
      placeholder={t("fill.search")}
      loading={found.isFetching}
      onOpenChange={(open) => open && setOpened(true)}
      onFocus={() => setOpened(true)}
      options={options}
      value={many ? current : current[0] ?? null}
      onChange={(selected: { value: number; label: unknown } | { value: number; label: unknown }[] | null) => {
        const toRef = (s: { value: number; label: unknown }): Ref =>
          refs.find((r) => r._id === s.value) ?? { _id: s.value, title: typeof s.label === "string" ? s.label : String(s.value) };
        if (Array.isArray(selected)) onChange(selected.map(toRef));
        else onChange(selected ? toRef(selected) : null);
      }}
      style={{ width: "100%" }}
      data-testid={`relation-${field.key}`}
    />
  );
}
