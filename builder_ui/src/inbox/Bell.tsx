/**
 * The top bar's approval entries: 审批 (the inbox, with my open-task count) and the bell with my
 * notifications (assigned, cc, urged, finished, returned; and from rules: `rule` notices with
 * their rendered title and body, `assigned_record`): the unread count, the latest ones,
 * 全部已读, and a click marks one read and opens its task or record. Both poll every 30 s.
 */
import { AuditOutlined, BellOutlined } from "@ant-design/icons";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { Badge, Button, List, Popover, Typography } from "antd";
import dayjs from "dayjs";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { Link, useNavigate } from "react-router";
import { labelText } from "../forms/labels";
import { inboxApi, noticeTarget, type Notice } from "./api";

const POLL = 30_000;

const NOTICE_KINDS = ["assigned", "cc", "urged", "finished", "returned", "assigned_record", "rule"];

function noticeText(notice: Notice, t: (key: string, options?: Record<string, unknown>) => string, lang: string): string {
  const fromRule = notice.kind === "rule" || notice.kind === "assigned_record";
  const fallback = fromRule ? "" : labelText(notice.data.flow as never, lang, String(notice.data.flow_key ?? ""));
  const title = notice.data.title ?? fallback + (notice.record_id ? ` #${notice.record_id}` : "");
  const outcome = typeof notice.data.outcome === "string" ? t(`inbox.states.${notice.data.outcome}`) : "";
  const key = NOTICE_KINDS.includes(notice.kind) ? notice.kind : "other";
  return t(`inbox.notice.${key}`, { title: String(title).trim(), outcome });
}

/** 审批 with the open-task count. */
export function InboxLink() {
  const { t } = useTranslation();
  const open = useQuery({ queryKey: ["tasks", "open", "count"], queryFn: () => inboxApi.tasks("open", 0), refetchInterval: POLL });
  return (
    <Link to="/inbox" style={{ color: "#fff" }} data-testid="nav-inbox">
      <Badge count={open.data?.total ?? 0} size="small" offset={[4, -2]} data-testid="nav-inbox-count">
        <AuditOutlined style={{ color: "#fff" }} />
      </Badge>{" "}
      <span className="jimu-nav-text">{t("inbox.open")}</span>
    </Link>
  );
}

export default function Bell() {
  const { t, i18n } = useTranslation();
  const navigate = useNavigate();
  const client = useQueryClient();
  const [open, setOpen] = useState(false);
  const notices = useQuery({ queryKey: ["notifications"], queryFn: () => inboxApi.notifications(20), refetchInterval: POLL });
  const refresh = () => client.invalidateQueries({ queryKey: ["notifications"] });

  async function choose(notice: Notice) {
    if (!notice.read) await inboxApi.markRead([notice.id]);
    void refresh();
    setOpen(false);
    const target = noticeTarget(notice);
    if (target) navigate(target);
  }

  const content = (
    <div style={{ width: "min(360px, 90vw)" }} data-testid="bell-panel">
      <div style={{ display: "flex", justifyContent: "space-between", alignItems: "center", marginBottom: 4 }}>
        <Typography.Text strong>{t("inbox.notifications")}</Typography.Text>
        <Button
          type="link"
          size="small"
          disabled={!notices.data?.unread}
          onClick={async () => {
            await inboxApi.markRead("all");
            void refresh();
          }}
          data-testid="bell-read-all"
        >
          {t("inbox.readAll")}
        </Button>
      </div>
      <List
        size="small"
        style={{ maxHeight: "60vh", overflow: "auto" }}
        locale={{ emptyText: t("inbox.noNotifications") }}
        dataSource={notices.data?.items ?? []}
        renderItem={(notice) => (
          <List.Item
            style={{ cursor: "pointer", padding: "8px 4px" }}
            onClick={() => void choose(notice)}
            data-testid={`notice-${notice.id}`}
            data-kind={notice.kind}
            data-read={String(notice.read)}
            actions={
              notice.read
                ? []
                : [
                    <Button
                      key="read"
                      type="link"
                      size="small"
                      onClick={async (e) => {
                        e.stopPropagation();
                        await inboxApi.markRead([notice.id]);
                        void refresh();
                      }}
                      data-testid={`notice-read-${notice.id}`}
                    >
                      {t("inbox.markRead")}
                    </Button>,
                  ]
            }
          >
            <div style={{ minWidth: 0 }}>
              <Badge dot={!notice.read} offset={[4, 0]}>
                <Typography.Text strong={!notice.read}>{noticeText(notice, t, i18n.language)}</Typography.Text>
              </Badge>
              {typeof notice.data.comment === "string" && notice.data.comment && <div className="jimu-flow-comment">{notice.data.comment}</div>}
              {typeof notice.data.body === "string" && notice.data.body && (
                <div className="jimu-flow-comment" style={{ whiteSpace: "pre-line" }} data-testid={`notice-body-${notice.id}`}>
                  {notice.data.body}
                </div>
              )}
              <div>
                <Typography.Text type="secondary" style={{ fontSize: 12 }}>
                  {notice.created_at ? dayjs(notice.created_at).format("MM-DD HH:mm") : ""}
                </Typography.Text>
              </div>
            </div>
          </List.Item>
        )}
      />
    </div>
  );
  return (
    <Popover trigger="click" open={open} onOpenChange={setOpen} content={content} placement="bottomRight">
      <Button type="text" style={{ color: "#fff" }} aria-label={t("inbox.notifications")} data-testid="bell">
        <Badge count={notices.data?.unread ?? 0} size="small" data-testid="bell-count">
          <BellOutlined style={{ color: "#fff", fontSize: 18 }} />
        </Badge>
      </Button>
    </Popover>
  );
}
