import { describe, expect, it } from "vitest";
import type { AppDef } from "../api/types";
import { nameText, nodeAccess, noticeTarget, titleText, type Notice } from "./api";

const app = {
  key: "crm",
  name: "CRM",
  version: "1",
  forms: [],
  menu: [],
  _revision: 3,
  flows: [
    {
      key: "approval",
      nodes: [
        { id: "start", type: "start" },
        { id: "boss", type: "approve", fields: { amount: "read", phone: "hidden", signed_date: "edit", notes: "read_only" } },
      ],
    },
  ],
} as unknown as AppDef;

const notice = (kind: string, extra: Partial<Notice> = {}): Notice => ({
  id: 1,
  kind,
  app: "crm",
  form: "contract",
  record_id: 7,
  task_id: 42,
  data: {},
  read: false,
  ...extra,
});

describe("inbox helpers", () => {
  it("reads a node's field access; DESIGN's read is read-only and absent fields are left to the default", () => {
    expect(nodeAccess(app, "approval", "boss")).toEqual({ amount: "read_only", phone: "hidden", signed_date: "edit", notes: "read_only" });
    expect(nodeAccess(app, "approval", "start")).toEqual({});
    expect(nodeAccess(app, "missing", "boss")).toEqual({});
  });

  it("sends assigned and urged notifications to the task, the others to the record", () => {
    expect(noticeTarget(notice("assigned"))).toBe("/inbox?task=42");
    expect(noticeTarget(notice("urged"))).toBe("/inbox?task=42");
    expect(noticeTarget(notice("returned"))).toBe("/apps/crm/contract?open=7");
    expect(noticeTarget(notice("finished", { task_id: null }))).toBe("/apps/crm/contract?open=7");
    expect(noticeTarget(notice("cc", { app: null, form: null, record_id: null }))).toBeNull();
  });

  it("names records and nodes", () => {
    expect(titleText({ title: "合同 A", record_id: 3 })).toBe("合同 A");
    expect(titleText({ title: null, record_id: 3 })).toBe("#3");
    expect(nameText({ zh: "总监审批", en: "Director" }, "en")).toBe("Director");
    expect(nameText({ zh: "总监审批", en: "Director" }, "zh-CN")).toBe("总监审批");
    expect(nameText(null, "en", "boss")).toBe("boss");
  });
});
