/** Picks people for user/users fields, searching the member directory (`GET /directory/users?q=`),
 * which everyone signed in may read (names and departments only). */
import { useQuery } from "@tanstack/react-query";
import { Select } from "antd";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { api } from "../api/client";
import type { FieldDef } from "../api/types";
import { useAuth } from "../auth/AuthContext";

type Person = { id: number; name?: string | null };

interface Props {
  field: FieldDef;
  value: Person | Person[] | null | undefined;
  onChange(value: Person | Person[] | null): void;
  disabled?: boolean;
  autoFocus?: boolean;
  id?: string;
}

export default function UserPicker({ field, value, onChange, disabled, autoFocus, id }: Props) {
  const { t } = useTranslation();
  const { user } = useAuth();
  const [q, setQ] = useState("");
  const found = useQuery({ queryKey: ["directory-users", q], queryFn: () => api.pickUsers(q) });
  const many = field.type === "users";
  const current = Array.isArray(value) ? value : value ? [value] : [];
  const people = new Map<number, string>();
  for (const p of current) people.set(p.id, p.name ?? `#${p.id}`);
  if (user?.id != null) people.set(user.id, user.display_name || user.username);
  for (const u of found.data ?? []) people.set(u.id, u.department ? `${u.name} · ${u.department}` : u.name);
  const options = [...people].map(([value, label]) => ({ value, label }));
  const toPerson = (v: number): Person => ({ id: v, name: people.get(v) ?? null });
  return (
    <Select
      id={id}
      showSearch={{ filterOption: false, onSearch: setQ }}
      allowClear
      mode={many ? "multiple" : undefined}
      disabled={disabled}
      autoFocus={autoFocus}
      placeholder={t("fill.search")}
      loading={found.isFetching}
      options={options}
      value={many ? current.map((p) => p.id) : (current[0]?.id ?? null)}
      onChange={(selected: number | number[] | null) => {
        if (Array.isArray(selected)) onChange(selected.map(toPerson));
        else onChange(selected === null || selected === undefined ? null : toPerson(selected));
      }}
      style={{ width: "100%" }}
      data-testid={`users-${field.key}`}
    />
  );
}
