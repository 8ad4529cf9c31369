/**
 * A record's approval flow as its people see it: the state tag (审批中/已通过/已拒绝/已撤回/已退回),
 * the current steps with who holds them, the history with comments, and — for the initiator —
 * 撤回 withdraw, 催办 urge (the server's cool-down message when too soon) and, once returned,
 * the returning comment with 修改记录 / 重新提交.
 */
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { App, Alert, Button, Input, Popconfirm, Space, Spin, Tag, Timeline, Typography } from "antd";
import dayjs from "dayjs";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { useNavigate } from "react-router";
import { ApiError } from "../api/client";
import { useAuth } from "../auth/AuthContext";
import { labelText } from "../forms/labels";
import { inboxApi, nameText, type FlowEntry, type InstanceState, type RecordFlow } from "./api";

const COLORS: Record<InstanceState, string> = {
  running: "processing",
  returned: "warning",
  approved: "success",
  rejected: "error",
  withdrawn: "default",
  cancelled: "default",
};

/** The instance's state as a coloured tag. */
export function FlowStateTag({ state }: { state: InstanceState | null | undefined }) {
  const { t } = useTranslation();
  if (!state) return null;
  return (
    <Tag color={COLORS[state] ?? "default"} data-testid="flow-state" data-state={state}>
      {t(`inbox.states.${state}`)}
    </Tag>
  );
}

/** The query of a record's flow, shared by the drawer header and the timeline. */
export function useRecordFlow(app: string, form: string, id: number | null, enabled = true) {
  return useQuery({
    queryKey: ["record-flow", app, form, id],
    queryFn: () => inboxApi.recordFlow(app, form, id!),
    enabled: enabled && id !== null,
    retry: false,
  });
}

/** Refresh everything an action on a flow may have changed. */
export async function refreshFlows(client: ReturnType<typeof useQueryClient>): Promise<void> {
  await Promise.all([
    client.invalidateQueries({ queryKey: ["record-flow"] }),
    client.invalidateQueries({ queryKey: ["tasks"] }),
    client.invalidateQueries({ queryKey: ["task"] }),
    client.invalidateQueries({ queryKey: ["notifications"] }),
    client.invalidateQueries({ queryKey: ["record"] }),
  ]);
}

function entryText(entry: FlowEntry, t: (key: string, options?: Record<string, unknown>) => string): string {
  const data = entry.data ?? {};
  if (entry.kind === "task_done" && typeof data.action === "string") return t(`inbox.actions.${data.action}`, { defaultValue: data.action });
  if (entry.kind === "finished" && typeof data.outcome === "string") return `${t("inbox.events.finished")} · ${t(`inbox.states.${data.outcome}`)}`;
  return t(`inbox.events.${entry.kind}`, { defaultValue: entry.kind });
}

function History({ entries }: { entries: FlowEntry[] }) {
  const { t, i18n } = useTranslation();
  // Node entries are bookkeeping; what people did (and start/finish) is the timeline.
  const shown = entries.filter((e) => e.kind !== "node_entered");
  return (
    <Timeline
      data-testid="flow-history"
      items={shown.map((entry, i) => {
        const said = (e: FlowEntry | undefined) => (typeof e?.data?.comment === "string" ? e.data.comment : "");
        // A return repeats the rejection's comment: shown once, on the rejection.
        const comment = entry.kind === "returned" && said(shown[i - 1]) === said(entry) ? "" : said(entry);
        const color = entry.data?.action === "reject" || entry.kind === "returned" ? "red" : entry.kind === "finished" ? "green" : "blue";
        return {
          key: i,
          color,
          children: (
            <div data-testid="flow-entry" data-kind={entry.kind}>
              <Typography.Text strong>
                {entry.actor?.name ?? entry.actor?.username ?? ""} {entryText(entry, t)}
              </Typography.Text>
              {entry.node_name ? <Typography.Text type="secondary"> · {nameText(entry.node_name, i18n.language)}</Typography.Text> : null}
              <div>
                <Typography.Text type="secondary">{entry.at ? dayjs(entry.at).format("YYYY-MM-DD HH:mm") : ""}</Typography.Text>
              </div>
              {comment && <div className="jimu-flow-comment" data-testid="flow-comment">{comment}</div>}
            </div>
          ),
        };
      })}
    />
  );
}

interface Props {
  app: string;
  form: string;
  id: number;
  /** Whether to show the initiator's buttons (withdraw, urge, resubmit) when I started it. */
  actions?: boolean;
}

/** The flow of one record: state, current steps, history; the initiator's actions. */
export default function FlowTimeline({ app, form, id, actions = true }: Props) {
  const { t, i18n } = useTranslation();
  const { user } = useAuth();
  const { message } = App.useApp();
  const navigate = useNavigate();
  const client = useQueryClient();
  const flow = useRecordFlow(app, form, id);
  const [comment, setComment] = useState("");
  const [busy, setBusy] = useState(false);
  if (flow.isPending) return <Spin />;
  if (flow.isError) return <Typography.Text type="danger">{flow.error instanceof ApiError ? flow.error.message : t("errors.generic")}</Typography.Text>;
  const data: RecordFlow = flow.data;
  if (!data.state) return <Typography.Text type="secondary">{t("inbox.empty")}</Typography.Text>;
  const mine = actions && user !== null && data.initiator?.id === user?.id;
  const returned = [...data.history].reverse().find((e) => e.kind === "returned");

  async function run(action: "withdraw" | "urge" | "resubmit") {
    setBusy(true);
    try {
      const answer = await inboxApi.flowAction(app, form, id, action, action === "resubmit" ? comment || undefined : undefined);
      // Done once the engine answered: the buttons work again while the views refresh (a
      // second 催办 then meets the cool-down, not a button still loading that ignores it).
      setBusy(false);
      if (action === "urge") message.success(t("inbox.urged", { count: answer.urged ?? 0 }));
      else message.success(t(action === "withdraw" ? "inbox.withdrawn" : "inbox.resubmitted"));
      setComment("");
      await refreshFlows(client);
    } catch (e) {
      message.error(e instanceof ApiError ? e.message : t("errors.generic"));
    } finally {
      setBusy(false);
    }
  }

  return (
    <div data-testid="flow-timeline">
      <Space wrap style={{ marginBottom: 8 }}>
        <Typography.Text strong>{labelText(data.flow?.name as never, i18n.language, data.flow?.key ?? "")}</Typography.Text>
        <FlowStateTag state={data.state} />
      </Space>
      {data.current.length > 0 && (
        <div style={{ marginBottom: 12 }} data-testid="flow-current">
          {data.current.map((c) => (
            <div key={c.node}>
              <Typography.Text type="secondary">{t("inbox.current")}：</Typography.Text>
              <Typography.Text strong>{nameText(c.name, i18n.language, c.node)}</Typography.Text>{" "}
              <Typography.Text>{t("inbox.waitingFor", { people: c.assignees.map((p) => p.name ?? p.username ?? `#${p.id}`).join("、") })}</Typography.Text>
            </div>
          ))}
        </div>
      )}
      {mine && data.state === "returned" && (
        <Alert
          type="warning"
          showIcon
          style={{ marginBottom: 12 }}
          data-testid="flow-returned"
          title={returned ? t("inbox.returnedBy", { name: returned.actor?.name ?? "", comment: String(returned.data?.comment ?? "") }) : t("inbox.returnedHint")}
          description={
            <Space orientation="vertical" style={{ width: "100%" }}>
              <Typography.Text>{t("inbox.returnedHint")}</Typography.Text>
              <Input.TextArea rows={2} value={comment} onChange={(e) => setComment(e.target.value)} placeholder={t("inbox.commentHint")} maxLength={2000} data-testid="resubmit-comment" />
              <Space wrap>
                <Button onClick={() => navigate(`/apps/${app}/${form}/${id}/edit`)} data-testid="flow-edit">
                  {t("inbox.editRecord")}
                </Button>
                <Button type="primary" loading={busy} onClick={() => void run("resubmit")} data-testid="flow-resubmit">
                  {t("inbox.resubmit")}
                </Button>
              </Space>
            </Space>
          }
        />
      )}
      {mine && data.state === "running" && (
        <Space wrap style={{ marginBottom: 12 }}>
          <Popconfirm title={t("inbox.confirmWithdraw")} onConfirm={() => run("withdraw")}>
            <Button className="jimu-touch" loading={busy} data-testid="flow-withdraw">
              {t("inbox.withdraw")}
            </Button>
          </Popconfirm>
          <Button className="jimu-touch" loading={busy} onClick={() => void run("urge")} data-testid="flow-urge">
            {t("inbox.urge")}
          </Button>
        </Space>
      )}
      <Typography.Title level={5}>{t("inbox.history")}</Typography.Title>
      <History entries={data.history} />
    </div>
  );
}
