import { describe, expect, it } from "vitest";
import { departmentTree } from "./departments";

describe("departmentTree", () => {
  it("nests departments under their parents and keeps orphans as roots", () => {
    const tree = departmentTree([
      { id: 1, name: "销售部", parent_id: null },
      { id: 2, name: "销售一组", parent_id: 1 },
      { id: 3, name: "销售二组", parent_id: 1 },
      { id: 4, name: "外部", parent_id: 99 },
    ]);
    expect(tree.map((n) => n.title)).toEqual(["销售部", "外部"]);
    expect(tree[0].children.map((n) => n.value)).toEqual([2, 3]);
    expect(departmentTree([])).toEqual([]);
  });
});
