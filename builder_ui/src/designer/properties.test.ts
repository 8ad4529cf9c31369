import { describe, expect, it } from "vitest";
import type { AppDef, FieldDef, SelectOption } from "../api/types";
import {
  addCondition,
  addOption,
  aggregatesFor,
  defaultKind,
  errorPosition,
  fieldReference,
  fieldsBehind,
  formulaChips,
  insertAt,
  isIndexable,
  limitKind,
  linkageDefault,
  linkageMissing,
  linkageOf,
  lookupVias,
  moveOption,
  offsetOf,
  optionsText,
  parseOptions,
  refPart,
  removeCondition,
  removeOption,
  serialSample,
  setCondition,
  setLinkageForm,
  setOption,
} from "./properties";

const app: AppDef = {
  key: "shop",
  name: "店",
  version: "1",
  menu: [],
  _revision: 1,
  forms: [
    {
      key: "customers",
      name: "客户",
      fields: [
        { key: "name", type: "text", label: { zh: "名称", en: "Name" } },
        { key: "section_1", type: "section" },
        { key: "contacts", type: "subform", fields: [{ key: "who", type: "text" }] },
      ],
    },
  ],
};

const fields: FieldDef[] = [
  { key: "amount", type: "money", label: { zh: "金额", en: "Amount" } },
  { key: "not", type: "text", label: "否" },
  { key: "part", type: "section" },
  { key: "customer", type: "relation", target: "customers", label: "客户" },
  { key: "items", type: "subform", label: "明细", fields: [{ key: "qty", type: "integer", label: "数量" }] },
];

describe("field references", () => {
  it("are bare keys, in braces when reserved or not a name", () => {
    expect(refPart("amount")).toBe("amount");
    expect(refPart("not")).toBe("{not}");
    expect(refPart("True")).toBe("{True}");
    expect(refPart("合同金额")).toBe("{合同金额}");
    expect(fieldReference(["customer", "name"])).toBe("customer.name");
    expect(fieldReference(["or", "qty"])).toBe("{or}.qty");
  });

  it("insert at the caret, replacing the selection", () => {
    expect(insertAt("a +  * 2", 4, 4, "amount")).toEqual({ text: "a + amount * 2", caret: 10 });
    expect(insertAt("IF(x, 1)", 3, 4, "{not}")).toEqual({ text: "IF({not}, 1)", caret: 8 });
    expect(insertAt("ab", 99, 120, "c")).toEqual({ text: "abc", caret: 3 });
  });

  it("chips list the fields by label, then subform and relation fields one level deep", () => {
    const chips = formulaChips(fields, app, "zh");
    expect(chips.map((c) => c.ref)).toEqual(["amount", "{not}", "customer", "items", "customer.name", "items.qty"]);
    expect(chips.find((c) => c.ref === "items.qty")).toMatchObject({ text: "明细.数量", via: "subform" });
    expect(chips.find((c) => c.ref === "customer.name")).toMatchObject({ text: "客户.名称", via: "relation" });
    expect(formulaChips(fields, app, "en")[0].text).toBe("Amount");
    expect(formulaChips(fields, app, "zh", [], "amount").map((c) => c.ref)).not.toContain("amount");
  });

  it("chips of a subform row put the row's fields first", () => {
    const chips = formulaChips(fields, app, "zh", fields[4].fields);
    expect(chips[0]).toMatchObject({ ref: "qty", text: "数量" });
  });

  it("find the offset of an error position", () => {
    expect(offsetOf("1 +\n  amout", 2, 3)).toBe(6);
    expect(offsetOf("abc", 5, 99)).toBe(3);
    expect(errorPosition({ line: 2, column: 3 })).toEqual({ line: 2, column: 3 });
    expect(errorPosition({})).toBeNull();
  });
});

describe("options table", () => {
  const options: SelectOption[] = [
    { value: "high", label: { zh: "高", en: "High" }, color: "#f5222d" },
    { value: "low", label: "低" },
  ];

  it("adds an option with a fresh value and removes one", () => {
    const added = addOption(options);
    expect(added[2]).toEqual({ value: "option3", label: { zh: "option3", en: "option3" } });
    expect(addOption([{ value: "option2" }])[1].value).toBe("option3");
    expect(removeOption(options, 0)).toEqual([options[1]]);
  });

  it("moves options and ignores moves out of range", () => {
    expect(moveOption(options, 1, 0).map((o) => o.value)).toEqual(["low", "high"]);
    expect(moveOption(options, 0, -1)).toBe(options);
    expect(moveOption(options, 1, 2)).toBe(options);
  });

  it("changes a value, one label language or the colour", () => {
    expect(setOption(options, 1, { en: "Low" })[1]).toEqual({ value: "low", label: { zh: "低", en: "Low" } });
    expect(setOption(options, 0, { zh: "" })[0].label).toEqual({ en: "High" });
    expect(setOption(options, 0, { color: null })[0]).toEqual({ value: "high", label: { zh: "高", en: "High" } });
    expect(setOption(options, 1, { color: "#52c41a", value: "lo" })[1]).toEqual({ value: "lo", label: "低", color: "#52c41a" });
    expect(setOption([{ value: "x", label: { zh: "甲" } }], 0, { zh: "" })[0]).toEqual({ value: "x" });
  });

  it("round-trips the paste box, keeping colours", () => {
    expect(optionsText(options)).toBe("high|高|High\nlow|低|");
    expect(parseOptions("high|高|High\n\nmid|中", options)).toEqual([
      { value: "high", label: { zh: "高", en: "High" }, color: "#f5222d" },
      { value: "mid", label: { zh: "中", en: "中" } },
    ]);
  });
});

describe("defaults", () => {
  it("detects the kind of a default", () => {
    expect(defaultKind(undefined)).toBe("none");
    expect(defaultKind(null)).toBe("none");
    expect(defaultKind("a")).toBe("literal");
    expect(defaultKind(0)).toBe("literal");
    expect(defaultKind(false)).toBe("literal");
    expect(defaultKind(["a", "b"])).toBe("literal");
    expect(defaultKind({ expr: "TODAY()" })).toBe("formula");
    expect(defaultKind({ linkage: { form: "x", when: [], take: "y" } })).toBe("linkage");
    expect(defaultKind({ other: 1 })).toBe("none");
  });

  it("edits a linkage: one to three conditions, a new form resets what it named", () => {
    let linkage = linkageOf(undefined);
    expect(linkage).toEqual({ form: "", when: [{ field: "", equals: "" }], take: "" });
    expect(linkageMissing(linkage)).toEqual(["form", "when", "take"]);
    linkage = setLinkageForm(linkage, "customers");
    linkage = setCondition(linkage, 0, { field: "name", equals: "customer_name" });
    linkage = { ...linkage, take: "level" };
    expect(linkageMissing(linkage)).toEqual([]);
    expect(linkageDefault(linkage)).toEqual({
      linkage: { form: "customers", when: [{ field: "name", equals: "customer_name" }], take: "level" },
    });
    expect(linkageOf(linkageDefault(linkage))).toEqual(linkage);
    const three = addCondition(addCondition(linkage));
    expect(three.when).toHaveLength(3);
    expect(addCondition(three)).toBe(three);
    expect(removeCondition(three, 1).when).toHaveLength(2);
    expect(removeCondition(linkage, 0)).toBe(linkage);
    expect(setLinkageForm(linkage, "orders")).toEqual({ form: "orders", when: [{ field: "", equals: "customer_name" }], take: "" });
  });
});

describe("limits and type settings", () => {
  it("says what min/max bound", () => {
    expect(limitKind("money")).toBe("value");
    expect(limitKind("text")).toBe("length");
    expect(limitKind("multiselect")).toBe("count");
    expect(limitKind("date")).toBeNull();
  });

  it("previews a serial pattern", () => {
    expect(serialSample("HT-{YYYY}{MM}-{0000}", new Date(2024, 5, 9))).toBe("HT-202406-0001");
    expect(serialSample("{YY}{DD}-{00}-{X}", new Date(2024, 5, 9))).toBe("2409-01-{X}");
  });

  it("lists what lookups and rollups read through", () => {
    const many: FieldDef = { key: "tags", type: "relation", target: "customers", many: true };
    expect(lookupVias([...fields, many]).map((f) => f.key)).toEqual(["customer"]);
    expect(fieldsBehind(fields[3], app).map((f) => f.key)).toEqual(["name", "section_1", "contacts"]);
    expect(fieldsBehind(fields[4], app).map((f) => f.key)).toEqual(["qty"]);
    expect(aggregatesFor("text")).toEqual(["count", "min", "max"]);
    expect(aggregatesFor("integer")).toContain("sum");
  });
});

describe("formula check body", () => {
  it("sends the draft app with the designed form's fields, the form and the row", async () => {
    const { checkBody, rowFields } = await import("./props/context");
    const draft = [...fields, { key: "extra", type: "number" }];
    const body = checkBody("extra + 1", { app, formKey: "customers", formFields: draft, subform: "items" });
    expect(body.expr).toBe("extra + 1");
    expect(body.form).toBe("customers");
    expect(body.subform).toBe("items");
    expect((body.app as AppDef).forms[0].fields).toBe(draft);
    expect(rowFields({ app, formKey: "customers", formFields: draft, subform: "items" }).map((f) => f.key)).toEqual(["qty"]);
    expect(checkBody("1", { app: undefined, formKey: undefined, formFields: [] })).toEqual({ expr: "1", app: { forms: [] }, form: "" });
  });
});

describe("isIndexable (the switch 常用于筛选和排序)", () => {
  it("is offered for fields with a column of their own", () => {
    for (const type of ["text", "select", "money", "date", "serial"]) {
      expect(isIndexable({ key: "f", type } as FieldDef)).toBe(true);
    }
    expect(isIndexable({ key: "c", type: "relation", target: "customer" } as FieldDef)).toBe(true);
    expect(isIndexable({ key: "t", type: "formula", expr: "a * 2" } as FieldDef)).toBe(true);
  });

  it("is not offered where there is no column to index", () => {
    for (const type of ["lookup", "rollup", "subform", "section", "created_at"]) {
      expect(isIndexable({ key: "f", type } as FieldDef)).toBe(false);
    }
    expect(isIndexable({ key: "c", type: "relation", target: "customer", many: true } as FieldDef)).toBe(false);
  });
});
