import { describe, expect, it } from "vitest";
import type { AppDef, FieldDef, Issue } from "../api/types";
import {
  addCombination,
  addCombinationField,
  canAddField,
  combinableFields,
  combinationIssues,
  combinationPlace,
  MAX_COMBINATION_FIELDS,
  moveCombinationField,
  parseEntry,
  pruneCombinations,
  removeCombination,
  removeCombinationField,
  renameInCombinations,
  setCombinationField,
  setDirection,
} from "./combinations";
import { buildDefinition, isDirty } from "./state";

const fields: FieldDef[] = [
  { key: "intro", type: "section", label: "基本" },
  { key: "status", type: "select", label: "状态", options: [] },
  { key: "amount", type: "money", label: "金额" },
  { key: "level", type: "lookup", label: "等级", relation: "customer", field: "level" },
  { key: "items", type: "subform", label: "明细", fields: [{ key: "qty", type: "integer", label: "数量" }] },
  { key: "due", type: "date", label: "到期" },
  { key: "owner_name", type: "text", label: "负责人" },
  { key: "tags", type: "relation", label: "标签", target: "tag", many: true },
  { key: "note", type: "text", label: "备注" },
];

describe("combinable fields", () => {
  it("are the fields with a column of their own, in form order", () => {
    expect(combinableFields(fields).map((f) => f.key)).toEqual(["status", "amount", "due", "owner_name", "note"]);
  });
});

describe("editing combinations", () => {
  it("adds a combination with the first combinable field, and none without one", () => {
    expect(addCombination([], fields)).toEqual([["status"]]);
    expect(addCombination([["status"]], fields)).toEqual([["status"], ["status"]]);
    const none = [fields[0], fields[3]];
    expect(addCombination([], none)).toEqual([]);
  });

  it("adds the next unused field, up to the limit", () => {
    let combos = [["amount"]];
    combos = addCombinationField(combos, 0, fields);
    expect(combos).toEqual([["amount", "status"]]);
    while (canAddField(combos, 0, fields)) combos = addCombinationField(combos, 0, fields);
    expect(combos[0]).toHaveLength(MAX_COMBINATION_FIELDS);
    expect(MAX_COMBINATION_FIELDS).toBe(4);
    expect(combos[0]).toEqual(["amount", "status", "due", "owner_name"]);
    expect(addCombinationField(combos, 0, fields)).toBe(combos);
    // Every combinable field used: nothing left to add.
    const two = [fields[1], fields[2]];
    expect(canAddField([["status", "-amount"]], 0, two)).toBe(false);
    expect(canAddField([["status"]], 3, fields)).toBe(false);
  });

  it("changes a field keeping its direction, and refuses a field already in the combination", () => {
    const combos = [["status", "-amount"], ["due"]];
    expect(setCombinationField(combos, 0, 1, "due")).toEqual([["status", "-due"], ["due"]]);
    expect(setCombinationField(combos, 0, 1, "status")).toBe(combos);
    expect(setCombinationField(combos, 0, 0, "status")).toEqual(combos);
    expect(setCombinationField(combos, 0, 5, "note")).toBe(combos);
  });

  it("switches a field's direction", () => {
    expect(setDirection([["status", "amount"]], 0, 1, true)).toEqual([["status", "-amount"]]);
    expect(setDirection([["status", "-amount"]], 0, 1, false)).toEqual([["status", "amount"]]);
    expect(setDirection([["-amount"]], 0, 0, true)).toEqual([["-amount"]]);
  });

  it("reorders fields, and does nothing past the ends", () => {
    const combos = [["status", "-amount", "due"]];
    expect(moveCombinationField(combos, 0, 2, -1)).toEqual([["status", "due", "-amount"]]);
    expect(moveCombinationField(combos, 0, 0, 1)).toEqual([["-amount", "status", "due"]]);
    expect(moveCombinationField(combos, 0, 0, -1)).toBe(combos);
    expect(moveCombinationField(combos, 0, 2, 1)).toBe(combos);
  });

  it("removes a field, and the combination when it was its last", () => {
    const combos = [["status", "-amount"], ["due"], ["note"]];
    expect(removeCombinationField(combos, 0, 0)).toEqual([["-amount"], ["due"], ["note"]]);
    expect(removeCombinationField(combos, 1, 0)).toEqual([["status", "-amount"], ["note"]]);
    expect(removeCombination(combos, 2)).toEqual([["status", "-amount"], ["due"]]);
  });

  it("reads an entry's key and direction", () => {
    expect(parseEntry("-amount")).toEqual({ key: "amount", descending: true });
    expect(parseEntry("status")).toEqual({ key: "status", descending: false });
  });
});

describe("fields leaving the form", () => {
  it("leave every combination; an emptied combination goes, and so does a new duplicate", () => {
    const combos = [["status", "-amount"], ["note"], ["status"], ["-amount", "due"]];
    const left = fields.filter((f) => f.key !== "amount" && f.key !== "note");
    const { combinations, removed } = pruneCombinations(combos, left);
    expect(combinations).toEqual([["status"], ["due"]]);
    expect(removed).toEqual(["amount", "note"]);
  });

  it("change nothing when no combined field left", () => {
    const combos = [["status", "-amount"]];
    const result = pruneCombinations(combos, fields.filter((f) => f.key !== "note"));
    expect(result.combinations).toBe(combos);
    expect(result.removed).toEqual([]);
  });

  it("follow a new field's key when it is renamed", () => {
    expect(renameInCombinations([["status", "-text_1"], ["text_1"]], "text_1", "city")).toEqual([["status", "-city"], ["city"]]);
  });
});

describe("the server's errors at a combination", () => {
  const issue = (path: string): Issue => ({ path, code: "x", message: path }) as Issue;

  it("are placed by their path", () => {
    expect(combinationPlace("forms[1].indexes[2][0]")).toEqual({ index: 2, place: 0 });
    expect(combinationPlace("forms[1].indexes[3]")).toEqual({ index: 3, place: null });
    expect(combinationPlace("forms[1].fields[3].index")).toBeNull();
    expect(combinationPlace("forms[1].title_field")).toBeNull();
    const issues = [issue("forms[0].indexes[1][2]"), issue("forms[0].indexes[1]"), issue("forms[0].indexes[0][0]"), issue("forms[0].name")];
    const { whole, byPlace } = combinationIssues(issues, 1);
    expect(whole.map((i) => i.path)).toEqual(["forms[0].indexes[1]"]);
    expect([...byPlace.entries()].map(([place, found]) => [place, found.map((i) => i.path)])).toEqual([[2, ["forms[0].indexes[1][2]"]]]);
  });
});

describe("the definition a publish sends", () => {
  const app = { key: "shop", forms: [{ key: "order", name: "订单", fields, indexes: [["status"]] }], _revision: 3 } as unknown as AppDef;

  it("carries the combinations, and drops the key when there is none", () => {
    const built = buildDefinition(app, "order", fields, { name: "订单", indexes: [["status", "-amount"]] });
    expect(built.forms[0].indexes).toEqual([["status", "-amount"]]);
    expect("indexes" in buildDefinition(app, "order", fields, { name: "订单", indexes: [] }).forms[0]).toBe(false);
    expect(buildDefinition(app, "order", fields, { name: "订单" }).forms[0].indexes).toEqual([["status"]]);
  });

  it("is dirty when the combinations changed", () => {
    const published = app.forms[0];
    expect(isDirty(published, fields, { name: "订单", indexes: [["status"]] })).toBe(false);
    expect(isDirty(published, fields, { name: "订单", indexes: [["-status"]] })).toBe(true);
    expect(isDirty(published, fields, { name: "订单", indexes: [] })).toBe(true);
  });
});
