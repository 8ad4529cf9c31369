/** One record: every field I may see, edit/delete when allowed, its history timeline, and — for a
 * form bound to a flow — its approval state in the header and the flow timeline (审批 tab). */
import { PlusOutlined } from "@ant-design/icons";
import { useQueries, useQuery, useQueryClient } from "@tanstack/react-query";
import { RecordScopeContext } from "./fileScope";
import { App, Badge, Button, Descriptions, Drawer, Empty, List, Popconfirm, Space, Spin, Tabs, Timeline, Typography } from "antd";
import dayjs from "dayjs";
import { useTranslation } from "react-i18next";
import { useLocation, useNavigate } from "react-router";
import { api, ApiError } from "../api/client";
import type { AppDef, FieldDef, FormDef, HistoryEntry, Page, Permissions, RecordJson } from "../api/types";
import { relatedRecords } from "../api/views";
import { relatedSources, type RelatedSource } from "../views/helpers";
import { displayField, type DisplayEntry } from "../forms/appMenu";
import { displayText } from "../forms/display";
import { LAYOUT_TYPES } from "../forms/fieldTypes";
import { fieldLabel, labelText } from "../forms/labels";
import FieldValue from "./FieldValue";
import FlowTimeline, { FlowStateTag, useRecordFlow } from "../inbox/FlowTimeline";
import RuleButtons from "../rules/RuleButtons";

interface Props {
  app: AppDef;
  form: FormDef;
  id: number | null;
  permissions?: Permissions;
  onClose(): void;
  /** How lookups, rollups and formulas show (`GET /apps/{app}/menu`, forms/appMenu.ts). */
  display?: Record<string, DisplayEntry>;
}

function changeText(field: FieldDef | undefined, change: unknown, lang: string): string {
  const show = (v: unknown) => (field ? displayText(field, v, lang) : JSON.stringify(v)) || "∅";
  if (Array.isArray(change) && change.length === 2)
    return change[0] === null ? show(change[1]) : `${show(change[0])} → ${show(change[1])}`;
  if (change && typeof change === "object") {
    const c = change as Record<string, unknown>;
    if ("old" in c || "new" in c) return `${show(c.old)} → ${show(c.new)}`;
    if ("from" in c || "to" in c) return `${show(c.from)} → ${show(c.to)}`;
  }
  return show(change);
}

function HistoryTimeline({ entries, form, display }: { entries: HistoryEntry[]; form: FormDef; display?: Record<string, DisplayEntry> }) {
  const { t, i18n } = useTranslation();
  const byKey = new Map(form.fields.map((f) => [f.key, displayField(f, display)]));
  return (
    <Timeline
      data-testid="history"
      items={entries
        .slice()
        .reverse()
        .map((entry, i) => ({
          key: i,
          children: (
            <div>
              <Typography.Text strong>
                {entry.actor?.name ?? t("record.system")} · {t(`record.events.${String(entry.event ?? "update")}`, { defaultValue: String(entry.event ?? "") })}
              </Typography.Text>{" "}
              <Typography.Text type="secondary">{entry.at ? dayjs(String(entry.at)).format("YYYY-MM-DD HH:mm") : ""}</Typography.Text>
              <ul style={{ margin: "4px 0", paddingInlineStart: 18 }}>
                {Object.entries(entry.changes ?? {}).map(([key, change]) => (
                  <li key={key}>
                    {byKey.get(key) ? fieldLabel(byKey.get(key)!, i18n.language) : key}: {changeText(byKey.get(key), change, i18n.language)}
                  </li>
                ))}
              </ul>
            </div>
          ),
        }))}
    />
  );
}

const RELATED_SHOWN = 10;

function recordTitle(form: FormDef, record: RecordJson, lang: string): string {
  const field = form.fields.find((f) => f.key === form.title_field);
  const text = field ? displayText(field, record[field.key], lang) : "";
  return text ? String(text) : `#${record._id}`;
}

/** Records of other forms pointing to this one, per (form, relation field), as the records API
 * lists them for me (my row scope and field access decide; forms I may not view are left out). */
function RelatedRecords({ sources, pages, onOpen }: { sources: RelatedSource[]; pages: { data?: Page; isPending: boolean }[]; onOpen(form: string, id: number): void }) {
  const { t, i18n } = useTranslation();
  const shown = sources.map((source, i) => ({ source, page: pages[i] })).filter(({ page }) => page.isPending || page.data);
  const perForm = new Map<string, number>();
  for (const { source } of shown) perForm.set(source.form.key, (perForm.get(source.form.key) ?? 0) + 1);
  if (!shown.length) return <Empty description={t("views.relatedNone")} />;
  return (
    <Space orientation="vertical" style={{ width: "100%" }} data-testid="related-records">
      {shown.map(({ source, page }) => {
        const { form, field } = source;
        const name = labelText(form.name, i18n.language, form.key) + ((perForm.get(form.key) ?? 0) > 1 ? ` · ${fieldLabel(field, i18n.language)}` : "");
        const total = page.data?.total ?? page.data?.items.length ?? 0;
        return (
          <div key={`${form.key}.${field.key}`} data-testid={`related-${form.key}-${field.key}`}>
            <Space>
              <Typography.Text strong>{name}</Typography.Text>
              <Badge count={total} showZero color={total ? "blue" : "gray"} data-testid={`related-count-${form.key}-${field.key}`} />
            </Space>
            {page.isPending ? (
              <Spin size="small" />
            ) : (
              total > 0 && (
                <List
                  size="small"
                  dataSource={page.data!.items}
                  footer={total > page.data!.items.length ? <Typography.Text type="secondary">{t("views.relatedMore", { count: total, shown: page.data!.items.length })}</Typography.Text> : undefined}
                  renderItem={(record) => (
                    <List.Item style={{ cursor: "pointer" }} onClick={() => onOpen(form.key, record._id)} data-testid={`related-item-${form.key}-${record._id}`}>
                      <Typography.Link>{recordTitle(form, record, i18n.language)}</Typography.Link>
                    </List.Item>
                  )}
                />
              )
            )}
          </div>
        );
      })}
    </Space>
  );
}

export default function RecordDrawer({ app, form, id, permissions, onClose, display }: Props) {
  const { t, i18n } = useTranslation();
  const { message } = App.useApp();
  const navigate = useNavigate();
  const location = useLocation();
  const client = useQueryClient();
  const record = useQuery({ queryKey: ["record", app.key, form.key, id], queryFn: () => api.record(app.key, form.key, id!), enabled: id !== null });
  const history = useQuery({ queryKey: ["history", app.key, form.key, id], queryFn: () => api.history(app.key, form.key, id!), enabled: id !== null });
  // Forms whose relation points here: "+ 跟进记录" opens their fill page with this record chosen.
  const referring = app.forms.flatMap((f) =>
    f.fields.filter((x) => x.type === "relation" && x.target === form.key && !x.many).slice(0, 1).map((x) => ({ form: f, field: x })),
  );
  const referringPermissions = useQueries({
    queries: referring.map((r) => ({
      queryKey: ["permissions", app.key, r.form.key],
      queryFn: () => api.permissions(app.key, r.form.key),
      enabled: id !== null,
    })),
  });
  const sources = relatedSources(app, form.key);
  const related = useQueries({
    queries: sources.map((r) => ({
      queryKey: ["related", app.key, r.form.key, r.field.key, id],
      queryFn: () => relatedRecords(app.key, r.form.key, r.field.key, id!, RELATED_SHOWN),
      enabled: id !== null,
      retry: false,
    })),
  });
  const flowBound = Boolean(form.flow);
  const flow = useRecordFlow(app.key, form.key, id, flowBound);
  const relatedTotal = related.reduce((sum, q) => sum + (q.data?.total ?? 0), 0);
  const can = (action: string) => permissions?.actions.includes(action as never) ?? false;
  const hidden = (key: string) => permissions?.fields[key] === "hidden";
  const data = record.data;
  const fields = form.fields.filter((f) => !LAYOUT_TYPES.has(f.type) && !hidden(f.key) && (!data || f.key in data));
  const title = data ? String(displayText(form.fields.find((f) => f.key === form.title_field) ?? { key: "", type: "text" }, data[form.title_field ?? ""], i18n.language) || `#${id}`) : "";

  async function remove() {
    try {
      await api.remove(app.key, form.key, id!);
      message.success(t("record.deleted"));
      await client.invalidateQueries({ queryKey: ["records", app.key, form.key] });
      onClose();
    } catch (e) {
      message.error(e instanceof ApiError ? e.message : t("errors.generic"));
    }
  }

  return (
    <RecordScopeContext.Provider value={id === null ? null : { app: app.key, form: form.key, id }}>
    <Drawer
      open={id !== null}
      onClose={onClose}
      title={
        <Space wrap size={8}>
          <span>{title || t("record.details")}</span>
          {flowBound && <FlowStateTag state={flow.data?.state} />}
        </Space>
      }
      size="large"
      styles={{ wrapper: { maxWidth: "100vw" } }}
      extra={
        <Space wrap>
          {id !== null && record.data && <RuleButtons app={app.key} form={form.key} id={id} />}
          {can("edit") && flow.data?.state !== "running" && (
            <Button type="primary" onClick={() => navigate(`/apps/${app.key}/${form.key}/${id}/edit`, { state: { back: location.search } })} data-testid="record-edit">
              {t("record.edit")}
            </Button>
          )}
          {can("delete") && (
            <Popconfirm title={t("record.confirmDelete")} onConfirm={remove}>
              <Button danger data-testid="record-delete">
                {t("record.delete")}
              </Button>
            </Popconfirm>
          )}
        </Space>
      }
      data-testid="record-drawer"
    >
      {record.isPending && id !== null ? (
        <Spin />
      ) : record.isError ? (
        <Typography.Text type="danger">{record.error instanceof ApiError ? record.error.message : t("errors.generic")}</Typography.Text>
      ) : (
        <>
        <Space wrap style={{ marginBottom: 12 }}>
          {referring.map((r, i) =>
            referringPermissions[i].data?.actions.includes("create") &&
            referringPermissions[i].data?.fields[r.field.key] !== "hidden" &&
            referringPermissions[i].data?.fields[r.field.key] !== "read_only" ? (
              <Button
                key={r.form.key}
                size="small"
                icon={<PlusOutlined />}
                onClick={() =>
                  navigate(`/apps/${app.key}/${r.form.key}/new`, { state: { prefill: { [r.field.key]: { _id: id, title } } } })
                }
                data-testid={`add-related-${r.form.key}`}
              >
                {labelText(r.form.name, i18n.language, r.form.key)}
              </Button>
            ) : null,
          )}
        </Space>
        <Tabs
          items={[
            {
              key: "fields",
              label: t("record.details"),
              children: (
                <Descriptions column={1} bordered size="small" data-testid="record-fields">
                  {fields.map((f) => (
                    <Descriptions.Item key={f.key} label={fieldLabel(f, i18n.language)}>
                      <FieldValue field={displayField(f, display)} value={data?.[f.key]} />
                    </Descriptions.Item>
                  ))}
                </Descriptions>
              ),
            },
            ...(sources.length
              ? [
                  {
                    key: "related",
                    label: (
                      <span data-testid="related-tab">
                        {t("views.related")} {relatedTotal ? `(${relatedTotal})` : ""}
                      </span>
                    ),
                    children: (
                      <RelatedRecords
                        sources={sources}
                        pages={related}
                        onOpen={(target, recordId) => navigate(`/apps/${app.key}/${target}?open=${recordId}`)}
                      />
                    ),
                  },
                ]
              : []),
            ...(flowBound && id !== null
              ? [
                  {
                    key: "flow",
                    label: <span data-testid="flow-tab">{t("inbox.flowTab")}</span>,
                    children: <FlowTimeline app={app.key} form={form.key} id={id} />,
                  },
                ]
              : []),
            {
              key: "history",
              label: t("record.history"),
              children: history.data ? <HistoryTimeline entries={history.data} form={form} display={display} /> : <Spin />,
            },
          ]}
        />
        </>
      )}
    </Drawer>
    </RecordScopeContext.Provider>
  );
}
