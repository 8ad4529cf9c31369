/** Department and departments fields: a tree of the organisation's departments
 * (`GET /directory/departments`, readable by everyone signed in), one or several per field type. */
import { useQuery } from "@tanstack/react-query";
import { TreeSelect } from "antd";
import { useMemo } from "react";
import { useTranslation } from "react-i18next";
import { request, apiPath } from "../api/client";
import type { FieldDef } from "../api/types";
import { departmentTree, type Listed } from "../forms/departments";

type Department = { id: number; name?: string | null };

interface Props {
  field: FieldDef;
  value: Department | Department[] | null | undefined;
  onChange(value: Department | Department[] | null): void;
  disabled?: boolean;
  autoFocus?: boolean;
  id?: string;
}

export default function DepartmentPicker({ field, value, onChange, disabled, autoFocus, id }: Props) {
  const { t } = useTranslation();
  const listed = useQuery({ queryKey: ["directory-departments"], queryFn: () => request<Listed[]>("GET", apiPath("/directory/departments")) });
  const tree = useMemo(() => departmentTree(listed.data ?? []), [listed.data]);
  const names = new Map((listed.data ?? []).map((d) => [d.id, d.name]));
  const many = field.type === "departments";
  const current = Array.isArray(value) ? value : value ? [value] : [];
  for (const d of current) if (!names.has(d.id)) names.set(d.id, d.name ?? `#${d.id}`);
  const toDepartment = (v: number): Department => ({ id: v, name: names.get(v) ?? null });
  return (
    <TreeSelect
      id={id}
      autoFocus={autoFocus}
      disabled={disabled}
      allowClear
      showSearch
      treeNodeFilterProp="title"
      treeDefaultExpandAll
      multiple={many}
      loading={listed.isFetching}
      placeholder={t("inputs.pickDepartment")}
      treeData={tree}
      value={many ? current.map((d) => d.id) : (current[0]?.id ?? undefined)}
      onChange={(selected: number | number[] | undefined | null) => {
        if (Array.isArray(selected)) onChange(selected.length ? selected.map(toDepartment) : null);
        else onChange(selected === null || selected === undefined ? null : toDepartment(selected));
      }}
      style={{ width: "100%" }}
      data-testid={`departments-${field.key}`}
    />
  );
}
