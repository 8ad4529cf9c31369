import { describe, expect, it } from "vitest";
import { departmentPath, moveTargets, orgTree, rowErrorLines, type OrgDepartment } from "./tree";

const d = (id: number, name: string, parent_id: number | null): OrgDepartment => ({ id, name, parent_id, head_user_id: null, sort: 0 });
const LISTED = [d(1, "销售部", null), d(4, "市场部", null), d(2, "华东销售组", 1), d(3, "上海小组", 2), d(5, "华北销售组", 1)];

describe("orgTree", () => {
  it("puts children under their parents in the listed order", () => {
    expect(orgTree(LISTED)).toEqual([
      {
        key: 1,
        title: "销售部",
        children: [
          { key: 2, title: "华东销售组", children: [{ key: 3, title: "上海小组", children: [] }] },
          { key: 5, title: "华北销售组", children: [] },
        ],
      },
      { key: 4, title: "市场部", children: [] },
    ]);
  });

  it("makes an orphan or a loop a root instead of losing it", () => {
    const tree = orgTree([d(7, "孤儿", 99), d(8, "甲", 9), d(9, "乙", 8)]);
    expect(tree.map((n) => n.key).sort()).toEqual([7, 8, 9]);
  });
});

describe("moving", () => {
  it("disables only the moved department in the picker (the server explains the rest)", () => {
    const targets = moveTargets(LISTED, 2);
    const flat = (nodes: typeof targets): [number, boolean][] => nodes.flatMap((n) => [[n.value, n.disabled] as [number, boolean], ...flat(n.children)]);
    expect(flat(targets)).toEqual([
      [1, false],
      [2, true],
      [3, false],
      [5, false],
      [4, false],
    ]);
  });

  it("names a department by its path", () => {
    expect(departmentPath(LISTED, 3)).toBe("销售部 / 华东销售组 / 上海小组");
    expect(departmentPath(LISTED, null)).toBe("");
  });
});

describe("rowErrorLines", () => {
  it("maps the import's row errors to table lines in the UI language", () => {
    const errors = [
      { sheet: "用户", row: 3, column: "手机", code: "bad_phone", message: { zh: "手机号格式不正确", en: "Not a valid phone number" } },
      { sheet: "用户", row: 3, column: "手机", code: "bad_phone", message: { zh: "重复", en: "Again" } },
    ];
    const zh = rowErrorLines(errors, "zh-CN");
    expect(zh[0]).toEqual({ key: "用户-3-手机-0", sheet: "用户", row: 3, column: "手机", message: "手机号格式不正确" });
    expect(new Set(zh.map((l) => l.key)).size).toBe(2);
    expect(rowErrorLines(errors, "en")[0].message).toBe("Not a valid phone number");
  });
});
