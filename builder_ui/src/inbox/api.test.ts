import { describe, expect, it } from "vitest";
import { nameText, noticeTarget, titleText, type Notice } from "./api";

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
  it("sends assigned, urged and cc notifications to the task, the others to the record", () => {
    expect(noticeTarget(notice("assigned"))).toBe("/inbox?task=42");
    expect(noticeTarget(notice("urged"))).toBe("/inbox?task=42");
    expect(noticeTarget(notice("returned"))).toBe("/apps/crm/contract?open=7");
    expect(noticeTarget(notice("finished", { task_id: null }))).toBe("/apps/crm/contract?open=7");
    expect(noticeTarget(notice("cc"))).toBe("/inbox?task=42");
    expect(noticeTarget(notice("cc", { task_id: null, app: null, form: null, record_id: null }))).toBeNull();
  });

  it("sends rule notices and assigned records to the record", () => {
    expect(noticeTarget(notice("rule", { task_id: null }))).toBe("/apps/crm/contract?open=7");
    expect(noticeTarget(notice("assigned_record", { task_id: null }))).toBe("/apps/crm/contract?open=7");
  });

  it("names records and nodes", () => {
    expect(titleText({ title: "合同 A", record_id: 3 })).toBe("合同 A");
    expect(titleText({ title: null, record_id: 3 })).toBe("#3");
    expect(nameText({ zh: "总监审批", en: "Director" }, "en")).toBe("Director");
    expect(nameText({ zh: "总监审批", en: "Director" }, "zh-CN")).toBe("总监审批");
    expect(nameText(null, "en", "boss")).toBe("boss");
  });
});
