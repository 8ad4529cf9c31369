import { describe, expect, it } from "vitest";
import type { AppDef, FieldDef } from "../api/types";
import {
  addField,
  addSubField,
  addValidation,
  changeValidation,
  removeValidation,
  validationIndex,
  fieldAt,
  formIssues,
  groupSections,
  isDirty,
  moveSection,
  parseSelection,
  patchAt,
  removeAt,
  replaceAt,
  selectionId,
  setWidth,
  stepAt,
  subDragId,
  titleCandidates,
  widthSpan,
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
  type DropResult,
  type PaletteType,
} from "./state";

const fieldsOf = (result: DropResult): FieldDef[] | undefined => (result && "fields" in result ? result.fields : undefined);
const keys = (list: FieldDef[] | undefined) => (list ?? []).map((f) => f.key);

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
    expect(keys(fieldsOf(dropOnList([], "palette:text", "field-list", kinds)))).toEqual(["text_1"]);
    expect(dropOnList(fields, "palette:nope", "b", kinds)).toBeNull();
  });
  it("moves a dragged row to the place of the row it was dropped on", () => {
    expect(keys(fieldsOf(dropOnList(fields, "c", "a", kinds)))).toEqual(["c", "a", "b"]);
    expect(keys(fieldsOf(dropOnList(fields, "a", "c", kinds)))).toEqual(["b", "c", "a"]);
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

const subform: PaletteType = { type: "subform", title: { zh: "子表单", en: "Subform" }, example: { type: "subform", fields: [{ key: "qty", type: "integer" }] } };
const section: PaletteType = { type: "section", title: { zh: "分割线", en: "Section" }, example: { type: "section" } };
const kinds = new Map([["text", text], ["subform", subform], ["section", section]]);
// a | s1: b, c | s2: d | items(qty, price)
const laidOut: FieldDef[] = [
  { key: "a", type: "text" },
  { key: "s1", type: "section", label: "S1" },
  { key: "b", type: "text", width: "half" },
  { key: "c", type: "text", width: "half" },
  { key: "s2", type: "section", label: "S2" },
  { key: "d", type: "text" },
  { key: "items", type: "subform", fields: [{ key: "qty", type: "integer" }, { key: "price", type: "money" }] },
];

describe("sections", () => {
  it("group the fields after them; the fields before the first section come first", () => {
    const groups = groupSections(laidOut);
    expect(groups.map((g) => [g.section?.key ?? null, keys(g.fields)])).toEqual([
      [null, ["a"]],
      ["s1", ["b", "c"]],
      ["s2", ["d", "items"]],
    ]);
    expect(groupSections([]).map((g) => g.fields)).toEqual([[]]);
    expect(groupSections([laidOut[1]])[0].fields).toEqual([]);
  });
  it("a field dropped on a section header becomes its first field", () => {
    expect(keys(fieldsOf(dropOnList(laidOut, "palette:text", "s2", kinds)))).toEqual(["a", "s1", "b", "c", "s2", "text_1", "d", "items"]);
    expect(keys(fieldsOf(dropOnList(laidOut, "a", "s2", kinds)))).toEqual(["s1", "b", "c", "s2", "a", "d", "items"]);
    expect(keys(fieldsOf(dropOnList(laidOut, "d", "s1", kinds)))).toEqual(["a", "s1", "d", "b", "c", "s2", "items"]);
    expect(dropOnList(laidOut, "b", "s1", kinds)).toBeNull(); // already first
  });
  it("a field dropped on a section's area becomes its last field", () => {
    expect(dropOnList(laidOut, "palette:text", "sectionend:s1", kinds)).toMatchObject({ added: "text_1" });
    expect(keys(fieldsOf(dropOnList(laidOut, "palette:text", "sectionend:s1", kinds)))).toEqual(["a", "s1", "b", "c", "text_1", "s2", "d", "items"]);
    expect(keys(fieldsOf(dropOnList(laidOut, "a", "sectionend:s2", kinds)))).toEqual(["s1", "b", "c", "s2", "d", "items", "a"]);
    expect(keys(fieldsOf(dropOnList(laidOut, "b", "sectionend:s1", kinds)))).toEqual(["a", "s1", "c", "b", "s2", "d", "items"]);
    expect(dropOnList(laidOut, "c", "sectionend:s1", kinds)).toBeNull(); // already last
    expect(dropOnList(laidOut, "s2", "sectionend:s1", kinds)).toBeNull(); // sections move by their title
    expect(dropOnList(laidOut, "palette:nope", "sectionend:s1", kinds)).toBeNull();
  });
  it("move with their fields, by drag onto another section or one section up or down", () => {
    expect(keys(moveSection(laidOut, "s2", -1))).toEqual(["a", "s2", "d", "items", "s1", "b", "c"]);
    expect(keys(moveSection(laidOut, "s1", 1))).toEqual(["a", "s2", "d", "items", "s1", "b", "c"]);
    expect(moveSection(laidOut, "s1", -1)).toBe(laidOut); // the ungrouped fields stay first
    expect(moveSection(laidOut, "s2", 1)).toBe(laidOut);
    expect(keys(fieldsOf(dropOnList(laidOut, "s2", "s1", kinds)))).toEqual(["a", "s2", "d", "items", "s1", "b", "c"]);
    expect(keys(fieldsOf(dropOnList(laidOut, "s1", "s2", kinds)))).toEqual(["a", "s2", "d", "items", "s1", "b", "c"]);
  });
  it("removing a section keeps its fields (they join the group before)", () => {
    const next = removeAt(laidOut, { key: "s1" });
    expect(keys(next)).toEqual(["a", "b", "c", "s2", "d", "items"]);
    expect(keys(groupSections(next)[0].fields)).toEqual(["a", "b", "c"]);
  });
});

describe("widths", () => {
  it("map to antd spans; sections and unknown widths take the whole row", () => {
    expect(laidOut.map(widthSpan)).toEqual([24, 24, 12, 12, 24, 24, 24]);
    expect(["full", "half", "third", "two_thirds", "quarter"].map((width) => widthSpan({ key: "x", type: "text", width } as FieldDef))).toEqual([24, 12, 8, 16, 6]);
    expect(widthSpan({ key: "s", type: "section", width: "half" })).toBe(24);
  });
  it("are set per field; full removes the property", () => {
    const next = setWidth(laidOut, "a", "third");
    expect(next[0]).toEqual({ key: "a", type: "text", width: "third" });
    expect(setWidth(next, "a", "full")[0]).toEqual({ key: "a", type: "text" });
  });
});

describe("subforms", () => {
  it("take palette types dropped on a row or on the end of their list", () => {
    const atRow = dropOnList(laidOut, "palette:text", subDragId("items", "price"), kinds);
    expect(atRow).toMatchObject({ added: "text_1", parent: "items" });
    expect(keys(fieldsOf(atRow)?.[6].fields)).toEqual(["qty", "text_1", "price"]);
    const atEnd = fieldsOf(dropOnList(laidOut, "palette:text", "subdrop:items", kinds));
    expect(keys(atEnd?.[6].fields)).toEqual(["qty", "price", "text_1"]);
    expect(laidOut[6].fields).toHaveLength(2); // never mutated
  });
  it("refuse a subform, from the palette or dragged from the form", () => {
    expect(dropOnList(laidOut, "palette:subform", "subdrop:items", kinds)).toEqual({ refused: "nested_subform" });
    expect(addSubField(laidOut, "items", subform)).toEqual({ refused: "nested_subform" });
    const two = [...laidOut, { key: "lines", type: "subform", fields: [{ key: "x", type: "text" }] }];
    expect(dropOnList(two, "lines", "subdrop:items", kinds)).toEqual({ refused: "nested_subform" });
    expect(dropOnList(two, "items", subDragId("items", "qty"), kinds)).toBeNull(); // onto itself
  });
  it("reorder their rows, but rows do not cross lists", () => {
    const moved = fieldsOf(dropOnList(laidOut, subDragId("items", "price"), subDragId("items", "qty"), kinds));
    expect(keys(moved?.[6].fields)).toEqual(["price", "qty"]);
    expect(dropOnList(laidOut, subDragId("items", "qty"), "a", kinds)).toBeNull();
    expect(dropOnList(laidOut, "a", subDragId("items", "qty"), kinds)).toBeNull();
  });
  it("adds keys free in the subform and the form", () => {
    const result = addSubField([{ key: "text_1", type: "text" }, { key: "sf", type: "subform", fields: [{ key: "text_2", type: "text" }] }], "sf", text);
    expect(result).toMatchObject({ key: "text_3" });
  });
  it("select, patch, replace, step and remove sub-fields", () => {
    const sel = { parent: "items", key: "price" };
    expect(selectionId(sel)).toBe("items.price");
    expect(parseSelection("items.price")).toEqual(sel);
    expect(parseSelection("a")).toEqual({ key: "a" });
    expect(fieldAt(laidOut, sel)).toEqual({ key: "price", type: "money" });
    expect(fieldAt(laidOut, { key: "a" })).toBe(laidOut[0]);
    expect(fieldAt(laidOut, null)).toBeUndefined();
    expect(patchAt(laidOut, sel, { required: true })[6].fields?.[1]).toEqual({ key: "price", type: "money", required: true });
    expect(keys(replaceAt(laidOut, sel, { key: "amount", type: "money" })?.[6].fields)).toEqual(["qty", "amount"]);
    expect(replaceAt(laidOut, sel, { key: "qty", type: "money" })).toBeNull(); // key taken
    expect(replaceAt(laidOut, sel, { key: "price", type: "subform", fields: [] })).toBeNull(); // no nesting
    expect(keys(stepAt(laidOut, sel, -1)[6].fields)).toEqual(["price", "qty"]);
    expect(stepAt(laidOut, sel, 1)).toBe(laidOut);
    expect(keys(removeAt(laidOut, sel)[6].fields)).toEqual(["qty"]);
  });
  it("get the server's issues on their sub-fields", () => {
    const shop: AppDef = { ...app, forms: [app.forms[0], { key: "order", name: "Order", fields: laidOut }] };
    const issues = [
      { path: "forms[1].fields[6].fields[1].expr", code: "expr", message: "bad" },
      { path: "forms[1].fields[6].fields[0].type", code: "nested_subform", message: "nested" },
      { path: "forms[1].fields[6].min", code: "min_max", message: "rows" },
      { path: "forms[1].fields[6].fields[7].key", code: "x", message: "gone" },
      { path: "forms[1].title_field", code: "title", message: "title" },
    ];
    expect(issuesByField(issues, shop, "order", laidOut)).toEqual({ "items.price": [issues[0]], "items.qty": [issues[1]], items: [issues[2], issues[3]] });
    expect(issueProperty(issues[0])).toBe("expr");
    expect(issueProperty(issues[2])).toBe("min");
    expect(issueProperty({ path: "forms[1].fields[6].fields", code: "short", message: "" })).toBe("fields");
    expect(formIssues(issues, shop, "order")).toEqual([issues[4]]);
  });
});

describe("form settings", () => {
  const titled: PaletteType = { ...text, titleable: true };
  it("offer the titleable fields as title field", () => {
    expect(keys(titleCandidates(laidOut, new Map([["text", titled]])))).toEqual(["a", "b", "c", "d"]);
  });
  it("are published with the fields", () => {
    const built = buildDefinition(app, "order", fields, { name: { zh: "订单", en: "Order" }, title_field: "a" });
    expect(built.forms[1]).toMatchObject({ name: { zh: "订单", en: "Order" }, title_field: "a" });
    expect(buildDefinition(app, "order", fields, { name: "Order", title_field: null }).forms[1].title_field).toBeUndefined();
    expect(buildDefinition(app, "order", fields, { name: "Order", title_field: "zzz" }).forms[1].title_field).toBeUndefined();
  });
  it("count as unsaved changes, like the fields", () => {
    const published = app.forms[1];
    expect(isDirty(published, fields, { name: "Order", title_field: "b" })).toBe(false);
    expect(isDirty(published, fields, { name: "Orders", title_field: "b" })).toBe(true);
    expect(isDirty(published, fields, { name: "Order", title_field: null })).toBe(true);
    expect(isDirty(published, setWidth(fields, "a", "half"), { name: "Order", title_field: "b" })).toBe(true);
  });
});

describe("form validations (表单校验)", () => {
  const form = { key: "order", name: "订单", fields: [{ key: "qty", type: "integer" }] as FieldDef[] };
  const app = { key: "shop", name: "店", version: "1", forms: [form], menu: [], _revision: 3 } as AppDef;

  it("adds, edits per language and removes rules", () => {
    let rules = addValidation([]);
    expect(rules).toEqual([{ expr: "", message: { zh: "", en: "" } }]);
    rules = changeValidation(rules, 0, { expr: "qty > 0", zh: "数量必须大于 0" });
    rules = changeValidation(rules, 0, { en: "Quantity must be positive" });
    expect(rules).toEqual([{ expr: "qty > 0", message: { zh: "数量必须大于 0", en: "Quantity must be positive" } }]);
    expect(removeValidation(addValidation(rules), 1)).toEqual(rules);
  });

  it("publishes them with the form and counts them as unpublished changes", () => {
    const validations = [{ expr: "qty > 0", message: { zh: "数量必须大于 0" } }];
    const settings = { name: form.name, validations };
    expect(buildDefinition(app, "order", form.fields, settings).forms[0].validations).toEqual(validations);
    expect(isDirty(form, form.fields, settings)).toBe(true);
    expect(isDirty({ ...form, validations }, form.fields, settings)).toBe(false);
    expect(isDirty(form, form.fields, { name: form.name, validations: [] })).toBe(false);
  });

  it("finds the rule a server issue is about", () => {
    expect(validationIndex("forms[0].validations[2].expr")).toBe(2);
    expect(validationIndex("forms[0].fields[2].expr")).toBeNull();
  });
});
