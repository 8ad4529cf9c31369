/**
 * One task opened from the inbox (`GET /tasks/{id}`): the record as the task lets me read it,
 * with the node's field access (hidden fields left out, `edit` fields as inputs sent as the
 * action's `data`, the rest read-only), the flow
 * timeline, and — while the task is open — 同意 / 拒绝 / 转交 / 评论 with an optional comment
 * (a rejection prompts for one, like DingTalk, but does not require it). A returned instance's
 * task of the initiator offers 重新提交 instead.
 */
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { App, Button, Descriptions, Drawer, Form, Input, Modal, Select, Space, Spin, Tag, Typography } from "antd";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { api, ApiError } from "../api/client";
import type { FieldDef, FormDef } from "../api/types";
import { useAuth } from "../auth/AuthContext";
import FieldInput, { EDITABLE_TYPES } from "../components/FieldInput";
import FieldValue from "../components/FieldValue";
import { RecordScopeContext } from "../components/fileScope";
import { isComputed, LAYOUT_TYPES } from "../forms/fieldTypes";
import { fieldLabel, labelText } from "../forms/labels";
import { inboxApi, nameText, titleText, type Access, type TaskAction, type TaskAnswer, type TaskRow } from "./api";
import FlowTimeline, { FlowStateTag, refreshFlows } from "./FlowTimeline";

function editable(field: FieldDef, access: Record<string, Access>): boolean {
  return access[field.key] === "edit" && EDITABLE_TYPES.has(field.type) && !isComputed(field);
}

interface Props {
  /** The task's id (null: closed). */
  taskId: number | null;
  onClose(): void;
  /** After an action on the task: the inbox opens the next task or returns to the list. */
  onActed(task: TaskRow): void;
}

function TaskBody({ answer, onActed }: { answer: TaskAnswer; onActed(task: TaskRow): void }) {
  const { task, fields: access } = answer;
  const { t, i18n } = useTranslation();
  const { message } = App.useApp();
  const { user } = useAuth();
  const client = useQueryClient();
  const app = useQuery({ queryKey: ["app", task.app], queryFn: () => api.app(task.app) });
  const [edits, setEdits] = useState<Record<string, unknown>>({});
  const [dialog, setDialog] = useState<TaskAction | null>(null);
  const [comment, setComment] = useState("");
  const [to, setTo] = useState<number | null>(null);
  const [q, setQ] = useState("");
  const [busy, setBusy] = useState(false);
  const people = useQuery({ queryKey: ["directory-users", q], queryFn: () => api.pickUsers(q), enabled: dialog === "transfer" });
  const open = task.state === "open" && task.kind !== "cc";
  const returned = open && task.instance.state === "returned";
  if (app.isPending) return <Spin />;
  const form: FormDef | undefined = app.data?.forms.find((f) => f.key === task.form);
  const record = answer.record;
  const fields = (form?.fields ?? []).filter((f) => !LAYOUT_TYPES.has(f.type) && access[f.key] !== "hidden" && (!record || f.key in record));

  async function act(action: TaskAction) {
    setBusy(true);
    try {
      const data = action === "approve" || action === "handle" ? Object.fromEntries(Object.entries(edits)) : {};
      await inboxApi.act(task.id, {
        action,
        comment: comment.trim() || undefined,
        to: action === "transfer" ? (to ?? undefined) : undefined,
        data: Object.keys(data).length ? data : undefined,
      });
      setBusy(false); // done once the engine answered, also while the views refresh
      message.success(t("inbox.acted", { action: t(`inbox.actions.${action}`) }));
      setDialog(null);
      setComment("");
      if (action === "comment") await refreshFlows(client);
      else onActed(task);
    } catch (e) {
      message.error(e instanceof ApiError ? [e.message, ...e.issues.map((i) => i.message)].filter(Boolean).join("；") : t("errors.generic"));
    } finally {
      setBusy(false);
    }
  }

  const primary: TaskAction = task.kind === "handle" ? "handle" : "approve";
  return (
    <RecordScopeContext.Provider value={{ app: task.app, form: task.form, id: task.record_id }}>
      <Space wrap style={{ marginBottom: 8 }}>
        <Typography.Text type="secondary">
          {labelText(app.data?.name, i18n.language, task.app)} / {form ? labelText(form.name, i18n.language, form.key) : task.form}
        </Typography.Text>
        {task.node_name ? <Tag>{nameText(task.node_name, i18n.language, task.node)}</Tag> : null}
        <FlowStateTag state={task.instance.state} />
      </Space>
      <Typography.Title level={5}>{t("inbox.fields")}</Typography.Title>
      {record === null ? (
        <Typography.Text type="secondary" data-testid="task-no-record">
          {t("inbox.noRecord")}
        </Typography.Text>
      ) : (
        <Descriptions column={1} bordered size="small" data-testid="task-fields">
          {fields.map((f) => (
            <Descriptions.Item key={f.key} label={fieldLabel(f, i18n.language)}>
              {open && !returned && editable(f, access) && app.data ? (
                <div data-testid={`task-edit-${f.key}`}>
                  <FieldInput app={app.data} field={f} value={f.key in edits ? edits[f.key] : record[f.key]} onChange={(v) => setEdits({ ...edits, [f.key]: v })} idPrefix="task-" />
                </div>
              ) : (
                <FieldValue field={f} value={record[f.key]} />
              )}
            </Descriptions.Item>
          ))}
        </Descriptions>
      )}
      {open && !returned && (
        <Input.TextArea
          rows={2}
          maxLength={2000}
          style={{ marginTop: 12 }}
          placeholder={t("inbox.commentHint")}
          value={comment}
          onChange={(e) => setComment(e.target.value)}
          data-testid="task-comment-text"
        />
      )}
      {open && !returned && (
        <div className="jimu-task-actions" data-testid="task-actions">
          <Button type="primary" className="jimu-touch" loading={busy} onClick={() => void act(primary)} data-testid="task-approve">
            {t(`inbox.actions.${primary}`)}
          </Button>
          {primary === "approve" && (
            <Button danger className="jimu-touch" onClick={() => setDialog("reject")} data-testid="task-reject">
              {t("inbox.actions.reject")}
            </Button>
          )}
          <Button className="jimu-touch" onClick={() => setDialog("transfer")} data-testid="task-transfer">
            {t("inbox.actions.transfer")}
          </Button>
          <Button className="jimu-touch" onClick={() => setDialog("comment")} data-testid="task-comment">
            {t("inbox.actions.comment")}
          </Button>
        </div>
      )}
      <Typography.Title level={5} style={{ marginTop: 16 }}>
        {t("inbox.timeline")}
      </Typography.Title>
      <FlowTimeline app={task.app} form={task.form} id={task.record_id} />
      <Modal
        open={dialog !== null}
        title={dialog ? t(`inbox.actions.${dialog}`) : ""}
        onCancel={() => setDialog(null)}
        okText={dialog ? t(`inbox.actions.${dialog}`) : ""}
        okButtonProps={{ danger: dialog === "reject", loading: busy, disabled: dialog === "transfer" && to === null, "data-testid": "task-dialog-ok" } as never}
        onOk={() => dialog && void act(dialog)}
        destroyOnHidden
      >
        <Form layout="vertical">
          {dialog === "transfer" && (
            <Form.Item label={t("inbox.transferTo")} required>
              <Select
                showSearch={{ filterOption: false, onSearch: setQ }}
                placeholder={t("inbox.transferPick")}
                value={to}
                onChange={(v: number) => setTo(v)}
                loading={people.isFetching}
                options={(people.data ?? []).filter((p) => p.id !== user?.id).map((p) => ({ value: p.id, label: p.department ? `${p.name} · ${p.department}` : p.name }))}
                data-testid="transfer-to"
              />
            </Form.Item>
          )}
          <Form.Item label={t("inbox.comment")}>
            <Input.TextArea
              rows={3}
              maxLength={2000}
              autoFocus
              value={comment}
              onChange={(e) => setComment(e.target.value)}
              placeholder={dialog === "reject" ? t("inbox.rejectHint") : t("inbox.commentHint")}
              data-testid="task-dialog-comment"
            />
          </Form.Item>
        </Form>
      </Modal>
    </RecordScopeContext.Provider>
  );
}

export default function TaskDrawer({ taskId, onClose, onActed }: Props) {
  const { t } = useTranslation();
  const answer = useQuery({ queryKey: ["task", taskId], queryFn: () => inboxApi.task(taskId!), enabled: taskId !== null, retry: false });
  const task = answer.data?.task;
  return (
    <Drawer open={taskId !== null} onClose={onClose} size="large" styles={{ wrapper: { maxWidth: "100vw" } }} title={task ? titleText(task) : t("inbox.task")} data-testid="task-drawer">
      {answer.isPending ? (
        <Spin />
      ) : answer.isError ? (
        <Typography.Text type="danger">{answer.error instanceof ApiError ? answer.error.message : t("errors.generic")}</Typography.Text>
      ) : (
        <TaskBody key={answer.data.task.id} answer={answer.data} onActed={onActed} />
      )}
    </Drawer>
  );
}
