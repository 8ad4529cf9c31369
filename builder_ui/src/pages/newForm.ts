/**
 * Adding an empty form to an installed app: the definition the app home publishes when an
 * administrator clicks 新建表单, with the new form also on the app's menu when it has one.
 */
import type { AppDef, Label } from "../api/types";

/** A key for a new form: `form` plus the first number no form of `app` uses. */
export function freshFormKey(app: AppDef): string {
  const taken = new Set(app.forms.map((f) => f.key));
  for (let n = app.forms.length + 1; ; n++) {
    const key = `form${n}`;
    if (!taken.has(key)) return key;
  }
}

/**
 * `app` with an empty form `key` named `name` appended, and appended to the menu if the app has
 * one. An empty English name is left out (the Chinese one shows in English).
 */
export function withNewForm(app: AppDef, key: string, name: { zh: string; en: string }): AppDef {
  const label: Label = name.en ? { zh: name.zh, en: name.en } : { zh: name.zh };
  const menu = app.menu ?? [];
  return {
    ...app,
    forms: [...app.forms, { key, name: label, fields: [] }],
    menu: menu.some((m) => typeof m.form === "string") ? [...menu, { form: key, label }] : menu,
  };
}
