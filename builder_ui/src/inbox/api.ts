/**
 * The approval inbox's calls (issue 13): my tasks (`GET /tasks?state=`), acting on one task or
 * several (`POST /tasks/{id}/act`, `POST /tasks/act`), a record's flow and the initiator's
 * withdraw / urge / resubmit (`…/records/{id}/flow[/{action}]`), and notifications.
 */
import { apiPath, formPath, request } from "../api/client";
import type { Label, RecordJson } from "../api/types";
import { labelText } from "../forms/labels";

export type TaskTab = "open" | "done" | "cc" | "initiated";
/** An instance's state: running, returned (back to the initiator) or how it finished. */
export type InstanceState = "running" | "returned" | "approved" | "rejected" | "withdrawn" | "cancelled";

export interface Person {
  id: number;
  name?: string | null;
  username?: string;
}

/** One row of `/tasks` (a task; in `initiated`, an instance). */
export interface TaskRow {
  id: number;
  kind: string;
  state: string;
  action?: string | null;
  comment?: string | null;
  node?: string;
  node_name?: unknown;
  flow: { key: string; name: unknown };
  instance: { id: number; state: InstanceState };
  app: string;
  form: string;
  record_id: number;
  title?: unknown;
  initiator?: Person | null;
  created_at?: string | null;
  acted_at?: string | null;
  finished_at?: string | null;
}

export interface TaskPage {
  items: TaskRow[];
  total: number;
}

export interface FlowEntry {
  at: string | null;
  actor?: Person | null;
  kind: string;
  node: string | null;
  node_name?: unknown;
  data: Record<string, unknown>;
}

/** A record's flow (`state` null when no flow ever ran on it). */
export interface RecordFlow {
  id?: number;
  state: InstanceState | null;
  version?: number;
  flow?: { key: string; name: unknown };
  initiator?: Person | null;
  current: { node: string; name?: unknown; assignees: Person[] }[];
  history: FlowEntry[];
  urged?: number;
}

export interface Notice {
  id: number;
  kind: "assigned" | "cc" | "urged" | "finished" | "returned" | string;
  app?: string | null;
  form?: string | null;
  record_id?: number | null;
  task_id?: number | null;
  data: Record<string, unknown>;
  read: boolean;
  created_at?: string | null;
}

export interface NoticePage {
  items: Notice[];
  total: number;
  unread: number;
}

export type TaskAction = "approve" | "reject" | "handle" | "transfer" | "comment" | "resubmit";

export interface ActBody {
  action: TaskAction;
  comment?: string;
  to?: number;
  data?: Record<string, unknown>;
}

export interface ActResult {
  task: number;
  instance: number;
  state: string;
  version: number;
}

export interface BatchResult {
  id: number;
  ok: boolean;
  state?: string;
  error?: { code: string; message: string };
}

/** `GET /tasks/{id}`: the task, the record as the task lets me read it (null when it no longer
 * does) and each field's access at the node (`edit` only while the task is open). */
export interface TaskAnswer {
  task: TaskRow;
  record: RecordJson | null;
  fields: Record<string, Access>;
}

export const inboxApi = {
  task: (task: number) => request<TaskAnswer>("GET", apiPath(`/tasks/${task}`)),
  tasks: (state: TaskTab, limit = 20, offset = 0) => request<TaskPage>("GET", apiPath("/tasks"), undefined, { state, limit, offset }),
  act: (task: number, body: ActBody) => request<ActResult>("POST", apiPath(`/tasks/${task}/act`), body),
  actBatch: (ids: number[], action: "approve" | "reject" | "handle", comment?: string) =>
    request<{ results: BatchResult[] }>("POST", apiPath("/tasks/act"), { ids, action, comment }),
  recordFlow: (app: string, form: string, id: number) => request<RecordFlow>("GET", apiPath(`${formPath(app, form)}/records/${id}/flow`)),
  flowAction: (app: string, form: string, id: number, action: "withdraw" | "urge" | "resubmit", comment?: string) =>
    request<RecordFlow>("POST", apiPath(`${formPath(app, form)}/records/${id}/flow/${action}`), comment ? { comment } : {}),
  notifications: (limit = 20) => request<NoticePage>("GET", apiPath("/notifications"), undefined, { limit }),
  markRead: (ids: number[] | "all") => request<{ read: number }>("POST", apiPath("/notifications/read"), ids === "all" ? { all: true } : { ids }),
};

/** Where a notification leads: the task (assigned, urged, cc: it lets me read the record even
 * without a role on the form) in the inbox, else the record. */
export function noticeTarget(notice: Notice): string | null {
  if (notice.task_id && ["assigned", "urged", "cc"].includes(notice.kind)) return `/inbox?task=${notice.task_id}`;
  if (notice.app && notice.form && notice.record_id) return `/apps/${notice.app}/${notice.form}?open=${notice.record_id}`;
  return null;
}

/** A node's or flow's name (a zh/en label, or text) in `lang`. */
export function nameText(name: unknown, lang: string, fallback = ""): string {
  return labelText((name ?? null) as Label, lang, fallback);
}

/** The text of a record title as `/tasks` answers it (a value of the title field). */
export function titleText(row: { title?: unknown; record_id: number }): string {
  const t = row.title;
  if (t === null || t === undefined || t === "") return `#${row.record_id}`;
  if (typeof t === "object") return String((t as { title?: unknown }).title ?? `#${row.record_id}`);
  return String(t);
}

export type Access = "hidden" | "read_only" | "edit";
