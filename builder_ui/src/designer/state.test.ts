import { describe, expect, it } from "vitest";
import type { AppDef, FieldDef } from "../api/types";
import {
  addField,
  buildDefinition,
  changeType,
  dropOnList,
  freshKey,
  issueProperty,
  issuesByField,
  moveField,
  newAppDefinition,
  removeField,
  setLabel,
  updateField,
  type PaletteType,
} from "./state";

const text: PaletteType = { type: "text", title: { zh: "单行文本", en: "Text" }, example: { type: "text" } };
const select: PaletteType = {
  type: "select",
  title: { zh: "下拉选择", en: "Select" },
  example: { type: "select", options: [{ value: "a", label: { zh: "甲", en: "A" } }] },
};
const fields: FieldDef[] = [
  { key: "a", type: "text", label: "A" },
  { key: "b", type: "number", label: "B", precision: 2, required: true },
  { key: "c", type: "date", label: "C" },
];
const app: AppDef = {
  key: "shop",
  name: "Shop",
  version: "1.0.0",
  menu: [],
  _revision: 7,
  forms: [
    { key: "other", name: "Other", fields: [{ key: "x", type: "text" }] },
    { key: "order", name: "Order", title_field: "b", fields },
  ],
};

describe("adding fields", () => {
  it("picks the first free key of the type", () => {
    expect(freshKey([{ key: "text_1", type: "text" }], "text")).toBe("text_2");
  });
  it("adds the type's example with its title as label, at the end or at an index", () => {
    const end = addField(fields, select);
    expect(end.key).toBe("select_1");
    expect(end.fields.at(-1)).toEqual({ key: "select_1", type: "select", label: { zh: "下拉选择", en: "Select" }, options: [{ value: "a", label: { zh: "甲", en: "A" } }] });
    const first = addField(fields, text, 0);
    expect(first.fields.map((f) => f.key)).toEqual(["text_1", "a", "b", "c"]);
    expect(fields).toHaveLength(3); // never mutated
  });
  it("copies the example so edits do not leak into the palette", () => {
    const { fields: next, key } = addField([], select);
    (next[0].options as { value: string }[])[0].value = "changed";
    expect(select.example.options).toEqual([{ value: "a", label: { zh: "甲", en: "A" } }]);
    expect(key).toBe("select_1");
  });
});

describe("moving, removing and changing fields", () => {
  it("moves a field and clamps the target", () => {
    expect(moveField(fields, 0, 2).map((f) => f.key)).toEqual(["b", "c", "a"]);
    expect(moveField(fields, 2, -5).map((f) => f.key)).toEqual(["c", "a", "b"]);
    expect(moveField(fields, 9, 0)).toBe(fields);
  });
  it("removes by key", () => {
    expect(removeField(fields, "b").map((f) => f.key)).toEqual(["a", "c"]);
  });
  it("updates properties and drops blank ones", () => {
    const next = updateField(fields, "b", { required: false, help: "H", precision: undefined });
    expect(next[1]).toEqual({ key: "b", type: "number", label: "B", help: "H" });
    expect(next[0]).toBe(fields[0]);
  });
  it("sets one language of a label and keeps the other", () => {
    expect(setLabel("名称", "en", "Name")).toEqual({ zh: "名称", en: "Name" });
    expect(setLabel({ zh: "名称", en: "Name" }, "en", "")).toEqual({ zh: "名称" });
  });
  it("changes the type keeping key, label and required, dropping what the old type meant", () => {
    expect(changeType(fields[1], text)).toEqual({ key: "b", type: "text", label: "B", required: true });
  });
});

describe("dropping on the field list", () => {
  const kinds = new Map([["text", text]]);
  it("inserts a palette type at the field it was dropped on, or at the end of an empty list", () => {
    expect(dropOnList(fields, "palette:text", "b", kinds)).toEqual({ fields: [fields[0], { key: "text_1", type: "text", label: { zh: "单行文本", en: "Text" } }, fields[1], fields[2]], added: "text_1" });
    expect(dropOnList([], "palette:text", "field-list", kinds)?.fields.map((f) => f.key)).toEqual(["text_1"]);
    expect(dropOnList(fields, "palette:nope", "b", kinds)).toBeNull();
  });
  it("moves a dragged row to the place of the row it was dropped on", () => {
    expect(dropOnList(fields, "c", "a", kinds)?.fields.map((f) => f.key)).toEqual(["c", "a", "b"]);
    expect(dropOnList(fields, "a", "c", kinds)?.fields.map((f) => f.key)).toEqual(["b", "c", "a"]);
    expect(dropOnList(fields, "b", "b", kinds)).toBeNull();
  });
});

describe("the definition a publish sends", () => {
  it("replaces only the designed form's fields and keeps _revision", () => {
    const next = [fields[0], { key: "d", type: "text" }];
    const built = buildDefinition(app, "order", next);
    expect(built._revision).toBe(7);
    expect(built.forms[0]).toBe(app.forms[0]);
    expect(built.forms[1].fields).toEqual(next);
    expect(built.forms[1].title_field).toBeUndefined(); // "b" is gone
    expect(buildDefinition(app, "order", fields).forms[1].title_field).toBe("b");
  });
  it("maps index paths of the server's issues to field keys of the designed form", () => {
    const issues = [
      { path: "forms[1].fields[2].expr", code: "expr", message: "bad" },
      { path: "forms[0].fields[0].key", code: "dup", message: "other form" },
      { path: "forms[1].fields[9]", code: "x", message: "no such field" },
      { path: "key", code: "key", message: "app" },
    ];
    expect(issuesByField(issues, app, "order", fields)).toEqual({ c: [issues[0]] });
    expect(issueProperty(issues[0])).toBe("expr");
    expect(issueProperty(issues[2])).toBeUndefined();
  });
  it("starts a new app with one empty form", () => {
    expect(newAppDefinition("todo", { zh: "待办", en: "To-do" })).toMatchObject({
      format: "jimu.app/1",
      key: "todo",
      forms: [{ key: "form1", fields: [] }],
    });
  });
});
