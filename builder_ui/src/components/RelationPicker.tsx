/** Picks records of a relation's target form, searching their titles on the server (`q=`).
 * An empty list says why, from the caller's view scope the server reports (only their own
 * records, say), and offers to add one when they may: its fill page comes back here with it
 * picked (FillPage's `returnTo`). */
import { PlusOutlined } from "@ant-design/icons";
import { useQuery } from "@tanstack/react-query";
import { Button, Select, Space, Typography } from "antd";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { useLocation, useNavigate } from "react-router";
import { api } from "../api/client";
import type { AppDef, FieldDef } from "../api/types";
import { displayText, relationTitle } from "../forms/display";
import { labelText } from "../forms/labels";
import { viewScope } from "../forms/phone";

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
  const navigate = useNavigate();
  const location = useLocation();
  const access = useQuery({
    queryKey: ["permissions", app.key, field.target],
    queryFn: () => api.permissions(app.key, field.target!),
    enabled: opened && !!target,
  });
  // Nothing to pick at all (not a search that found nothing): say why and offer to add one.
  const nothing = !q && !found.isFetching && found.data?.items.length === 0;
  const targetName = labelText(target?.name, i18n.language, field.target ?? "");
  const scope = viewScope(access.data);
  const why = scope === "own" ? "phone.emptyOwn" : scope === "scoped" ? "phone.emptyScoped" : "phone.emptyNone";
  const empty = nothing ? (
    <Space orientation="vertical" style={{ padding: 8 }} data-testid={`relation-${field.key}-empty`}>
      <Typography.Text type="secondary">{t(why, { form: targetName })}</Typography.Text>
      {access.data?.actions.includes("create") && (
        <Button
          icon={<PlusOutlined />}
          onClick={() =>
            navigate(`/apps/${app.key}/${field.target}/new`, {
              state: { returnTo: { path: location.pathname + location.search, field: field.key, state: location.state ?? undefined } },
            })
          }
          data-testid={`relation-${field.key}-add`}
        >
          {t("phone.addOne", { form: targetName })}
        </Button>
      )}
    </Space>
  ) : undefined;
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
      notFoundContent={empty}
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
