/**
 * The approval inbox (审批 · Approvals), reachable from every page's top bar: 待办 / 已办 / 抄送我 /
 * 我发起的, paged from `GET /tasks?state=`. A row opens its task (TaskDrawer) or, in 我发起的, its
 * record with the flow timeline; 待办 rows can be approved in a batch (per-row results shown).
 * On a phone the rows are cards and each 待办 card has its own 同意 (tap, confirm: two taps).
 */
import { useQueries, useQuery, useQueryClient } from "@tanstack/react-query";
import { App, Badge, Button, Card, Grid, List, Modal, Popconfirm, Space, Table, Tabs, Tag, Typography } from "antd";
import dayjs from "dayjs";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { useNavigate, useSearchParams } from "react-router";
import { api, ApiError } from "../api/client";
import { labelText } from "../forms/labels";
import { inboxApi, nameText, titleText, type BatchResult, type TaskRow, type TaskTab } from "../inbox/api";
import { FlowStateTag, refreshFlows } from "../inbox/FlowTimeline";
import TaskDrawer from "../inbox/TaskDrawer";

const TABS: TaskTab[] = ["open", "done", "cc", "initiated"];
const PAGE = 20;

/** "App / form" of a row, named from the app definitions loaded for the page. */
function useWhere(rows: TaskRow[]): (row: TaskRow) => string {
  const { i18n } = useTranslation();
  const keys = [...new Set(rows.map((r) => r.app))];
  const apps = useQueries({ queries: keys.map((key) => ({ queryKey: ["app", key], queryFn: () => api.app(key), staleTime: 60_000 })) });
  return (row) => {
    const app = apps[keys.indexOf(row.app)]?.data;
    const form = app?.forms.find((f) => f.key === row.form);
    return `${labelText(app?.name, i18n.language, row.app)} / ${form ? labelText(form.name, i18n.language, form.key) : row.form}`;
  };
}

export default function InboxPage() {
  const { t, i18n } = useTranslation();
  const { message } = App.useApp();
  const navigate = useNavigate();
  const client = useQueryClient();
  const screens = Grid.useBreakpoint();
  const phone = !screens.md;
  const [params, setParams] = useSearchParams();
  const tab = (TABS.includes(params.get("tab") as TaskTab) ? params.get("tab") : "open") as TaskTab;
  const page = Math.max(1, Number(params.get("page") ?? 1) || 1);
  const taskId = params.get("task") ? Number(params.get("task")) : null;
  const [selected, setSelected] = useState<number[]>([]);
  const [results, setResults] = useState<{ row: TaskRow | undefined; result: BatchResult }[] | null>(null);
  const [busy, setBusy] = useState<number | "batch" | null>(null);
  const list = useQuery({ queryKey: ["tasks", tab, page], queryFn: () => inboxApi.tasks(tab, PAGE, (page - 1) * PAGE) });
  const openCount = useQuery({ queryKey: ["tasks", "open", "count"], queryFn: () => inboxApi.tasks("open", 0) });
  const rows = list.data?.items ?? [];
  const where = useWhere(rows);

  const go = (next: Record<string, string | null>) => {
    const merged = new URLSearchParams(params);
    for (const [k, v] of Object.entries(next)) {
      if (v === null) merged.delete(k);
      else merged.set(k, v);
    }
    setParams(merged);
  };

  function openRow(row: TaskRow) {
    if (tab === "initiated") navigate(`/apps/${row.app}/${row.form}?open=${row.record_id}`);
    else go({ task: String(row.id) });
  }

  async function afterAct(done: TaskRow) {
    await refreshFlows(client);
    if (done.state !== "open" || tab !== "open") return go({ task: null });
    const fresh = await client.fetchQuery({ queryKey: ["tasks", "open", 1], queryFn: () => inboxApi.tasks("open", PAGE, 0) });
    const next = fresh.items.find((r) => r.id !== done.id);
    if (next) go({ task: String(next.id), page: null });
    else {
      message.info(t("inbox.nothingLeft"));
      go({ task: null, page: null });
    }
  }

  async function approveOne(row: TaskRow) {
    setBusy(row.id);
    try {
      await inboxApi.act(row.id, { action: row.kind === "handle" ? "handle" : "approve" });
      setBusy(null); // done once the engine answered, also while the lists refresh
      message.success(t("inbox.done"));
      await refreshFlows(client);
    } catch (e) {
      message.error(e instanceof ApiError ? e.message : t("errors.generic"));
    } finally {
      setBusy(null);
    }
  }

  async function batch() {
    setBusy("batch");
    try {
      const answer = await inboxApi.actBatch(selected, "approve");
      setResults(answer.results.map((result) => ({ row: rows.find((r) => r.id === result.id), result })));
      setSelected([]);
      setBusy(null);
      await refreshFlows(client);
    } catch (e) {
      message.error(e instanceof ApiError ? e.message : t("errors.generic"));
    } finally {
      setBusy(null);
    }
  }

  const time = (row: TaskRow) => (row.acted_at ?? row.created_at ? dayjs(row.acted_at ?? row.created_at).format("YYYY-MM-DD HH:mm") : "");
  const stateTag = (row: TaskRow) =>
    tab === "initiated" || tab === "cc" || row.state === "open" ? (
      <FlowStateTag state={row.instance.state} />
    ) : (
      <Tag>{row.action ? t(`inbox.actions.${row.action}`, { defaultValue: row.action }) : t(`inbox.taskStates.${row.state}`, { defaultValue: row.state })}</Tag>
    );
  const pagination = {
    current: page,
    pageSize: PAGE,
    total: list.data?.total ?? 0,
    showSizeChanger: false,
    onChange: (p: number) => go({ page: String(p) }),
    hideOnSinglePage: true,
  };

  const table = (
    <Table<TaskRow>
      rowKey="id"
      size="middle"
      loading={list.isPending}
      dataSource={rows}
      pagination={pagination}
      locale={{ emptyText: t("inbox.empty") }}
      rowSelection={tab === "open" ? { selectedRowKeys: selected, onChange: (keys) => setSelected(keys.map(Number)) } : undefined}
      onRow={(row) => ({ onClick: () => openRow(row), style: { cursor: "pointer" }, "data-testid": `task-row-${row.id}` }) as never}
      columns={[
        { key: "title", title: t("inbox.record"), render: (_, row) => <Typography.Link data-testid="task-title">{titleText(row)}</Typography.Link> },
        { key: "where", title: t("inbox.where"), render: (_, row) => where(row) },
        ...(tab === "initiated" ? [] : [{ key: "node", title: t("inbox.node"), render: (_: unknown, row: TaskRow) => nameText(row.node_name, i18n.language, row.node) }]),
        { key: "initiator", title: t("inbox.initiator"), render: (_, row) => row.initiator?.name ?? row.initiator?.username ?? "" },
        { key: "time", title: t("inbox.time"), render: (_, row) => time(row) },
        { key: "state", title: t("inbox.state"), render: (_, row) => stateTag(row) },
      ]}
    />
  );

  const cards = (
    <List<TaskRow>
      loading={list.isPending}
      dataSource={rows}
      pagination={list.data && list.data.total > PAGE ? { ...pagination, simple: true, align: "center" } : false}
      locale={{ emptyText: t("inbox.empty") }}
      renderItem={(row) => (
        <Card size="small" style={{ marginBottom: 8 }} onClick={() => openRow(row)} data-testid={`task-card-${row.id}`} hoverable>
          <div style={{ display: "flex", gap: 8, alignItems: "center" }}>
            <div style={{ flex: 1, minWidth: 0 }}>
              <Typography.Text strong ellipsis data-testid="task-title">
                {titleText(row)}
              </Typography.Text>
              <div>
                <Typography.Text type="secondary" ellipsis>
                  {where(row)}
                  {row.node_name ? ` · ${nameText(row.node_name, i18n.language, row.node)}` : ""}
                </Typography.Text>
              </div>
              <div>
                <Typography.Text type="secondary">
                  {row.initiator?.name ?? ""} {time(row)}
                </Typography.Text>{" "}
                {stateTag(row)}
              </div>
            </div>
            {tab === "open" && row.kind !== "cc" && row.instance.state === "running" && (
              <span onClick={(e) => e.stopPropagation()}>
                <Popconfirm title={t("inbox.confirmApprove")} onConfirm={() => approveOne(row)} okButtonProps={{ className: "jimu-touch", "data-testid": "card-approve-ok" } as never} cancelButtonProps={{ className: "jimu-touch" }}>
                  <Button type="primary" className="jimu-touch" loading={busy === row.id} data-testid={`card-approve-${row.id}`}>
                    {t(`inbox.actions.${row.kind === "handle" ? "handle" : "approve"}`)}
                  </Button>
                </Popconfirm>
              </span>
            )}
          </div>
        </Card>
      )}
    />
  );

  return (
    <div data-testid="inbox">
      <Typography.Title level={3}>{t("inbox.title")}</Typography.Title>
      <Tabs
        activeKey={tab}
        onChange={(key) => {
          setSelected([]);
          go({ tab: key, page: null, task: null });
        }}
        items={TABS.map((key) => ({
          key,
          label: (
            <span data-testid={`inbox-tab-${key}`}>
              {t(`inbox.tabs.${key}`)} {key === "open" && <Badge count={openCount.data?.total ?? 0} size="small" data-testid="inbox-open-count" />}
            </span>
          ),
        }))}
      />
      {tab === "open" && !phone && (
        <Space style={{ marginBottom: 12 }}>
          <Button type="primary" disabled={!selected.length} loading={busy === "batch"} onClick={() => void batch()} data-testid="batch-approve">
            {t("inbox.batch")}
          </Button>
          {selected.length > 0 && <Typography.Text type="secondary">{t("inbox.selected", { count: selected.length })}</Typography.Text>}
        </Space>
      )}
      {phone ? cards : table}
      <TaskDrawer taskId={taskId} onClose={() => go({ task: null })} onActed={(done) => void afterAct(done)} />
      <Modal open={results !== null} title={t("inbox.batchTitle")} onCancel={() => setResults(null)} onOk={() => setResults(null)} cancelButtonProps={{ style: { display: "none" } }}>
        <List
          data-testid="batch-results"
          dataSource={results ?? []}
          renderItem={({ row, result }) => (
            <List.Item data-testid={`batch-result-${result.id}`} data-ok={String(result.ok)}>
              <Space orientation="vertical" size={0}>
                <Typography.Text strong>{row ? titleText(row) : `#${result.id}`}</Typography.Text>
                {result.ok ? <Tag color="success">{t("inbox.batchOk")}</Tag> : <Typography.Text type="danger">{t("inbox.batchFailed")}：{result.error?.message}</Typography.Text>}
              </Space>
            </List.Item>
          )}
        />
      </Modal>
    </div>
  );
}
