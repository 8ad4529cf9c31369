import { describe, expect, it } from "vitest";
import type { FieldDef } from "../api/types";
import { followKey, formKeyFromName, keyFromLabel, relabel, relabelOption, slug, uniqueKey } from "./keys";

describe("readable keys", () => {
  it("turns Chinese into pinyin words, two characters a word, polyphones in context", () => {
    expect(slug("客户名称")).toBe("kehu_mingcheng");
    expect(slug("下次跟进日期")).toBe("xiaci_genjin_riqi");
    expect(slug("重庆")).toBe("chongqing");
    expect(slug("银行")).toBe("yinhang");
    expect(slug("金额(元)")).toBe("jine_yuan");
  });

  it("turns English into lower snake case and keeps the key rule", () => {
    expect(slug("Customer Name")).toBe("customer_name");
    expect(slug("  Next visit -- date ")).toBe("next_visit_date");
    expect(slug("2024 budget")).toBe("f_2024_budget");
    expect(slug("!!!")).toBe("");
    const long = slug("这是一个非常非常非常非常非常非常非常长的字段名称");
    expect(long).toMatch(/^[a-z][a-z0-9_]{0,40}$/);
    expect(long.length).toBeLessThanOrEqual(32);
  });

  it("makes keys unique within their scope", () => {
    expect(uniqueKey("kehu", ["kehu", "kehu_2"])).toBe("kehu_3");
    expect(keyFromLabel({ zh: "客户" }, ["kehu"], "text_1")).toBe("kehu_2");
    expect(keyFromLabel({ zh: "?" }, [], "text_1")).toBe("text_1");
    expect(formKeyFromName({ zh: "工作简报", en: "" }, ["gongzuo_jianbao"], "form8")).toBe("gongzuo_jianbao_2");
    expect(formKeyFromName({ zh: "", en: "" }, [], "form8")).toBe("form8");
  });
});

describe("labels and keys of fields", () => {
  const title = { zh: "单行文本", en: "Text" };
  const fresh: FieldDef = { key: "text_1", type: "text", label: { ...title } };

  it("drops the type's name in the other language, so the Chinese label shows in English", () => {
    expect(relabel(fresh, "zh", "客户名称", title)).toEqual({ zh: "客户名称" });
    expect(relabel({ ...fresh, label: { zh: "客户名称", en: "Name" } }, "zh", "客户", title)).toEqual({ zh: "客户", en: "Name" });
    expect(relabel(fresh, "en", "Customer", title)).toEqual({ en: "Customer" });
  });

  it("lets a generated key follow the label, but never a typed or published one", () => {
    const named: FieldDef = { ...fresh, label: { zh: "客户名称" } };
    expect(followKey(named, fresh.label, ["text_1", "phone"], false)).toBe("kehu_mingcheng");
    // Renamed again: the key generated from the old label follows.
    const renamed: FieldDef = { key: "kehu_mingcheng", type: "text", label: { zh: "客户简称" } };
    expect(followKey(renamed, { zh: "客户名称" }, [], false)).toBe("kehu_jiancheng");
    // Published: stays.
    expect(followKey(renamed, { zh: "客户名称" }, [], true)).toBe("kehu_mingcheng");
    // Typed by hand: stays.
    expect(followKey({ ...renamed, key: "short_name" }, { zh: "客户名称" }, [], false)).toBe("short_name");
    // Unique among siblings.
    expect(followKey(named, fresh.label, ["kehu_mingcheng"], false)).toBe("kehu_mingcheng_2");
  });
});

describe("options", () => {
  it("gives a new option a value from its label and drops the placeholder label", () => {
    const options = [{ value: "gao", label: { zh: "高" } }, { value: "option2", label: { zh: "option2", en: "option2" } }];
    const next = relabelOption(options, 1, "zh", "低", new Set());
    expect(next[1]).toEqual({ value: "di", label: { zh: "低" } });
    expect(relabelOption([{ value: "a" }], 0, "zh", "高", new Set())[0]).toEqual({ value: "gao", label: { zh: "高" } });
  });

  it("keeps published and typed values", () => {
    const options = [{ value: "option1", label: { zh: "option1", en: "option1" } }];
    expect(relabelOption(options, 0, "zh", "高", new Set(["option1"]))[0].value).toBe("option1");
    expect(relabelOption([{ value: "high" }], 0, "zh", "高", new Set())[0]).toEqual({ value: "high", label: { zh: "高" } });
  });
});
