/** Texts of the daily-use fixes (issue 16, `fix.*`) in Chinese and English, included by
 * messages.ts; and `enPlurals`, the English singular of every count the UI shows ("1 record",
 * not "1 records"), merged over the English table by i18n/index.ts (i18next picks `key_one`
 * when `count` is 1; Chinese has one form, so it has no such keys). */
export const fixZh = {
  noAccess: "无权限",
  noAccessHint: "你没有查看或填写这张表单的权限，请联系应用管理员。",
  noFillAccess: "你没有在这张表单中新增数据的权限，请联系应用管理员。",
  fillOnly: "只能填写",
  fillOnlyHint: "你可以在这张表单中提交数据，但不能查看已有数据。",
  fillNow: "去填写",
};

export const fixEn: typeof fixZh = {
  noAccess: "No access",
  noAccessHint: "You may neither view nor fill in this form. Ask the app's administrator.",
  noFillAccess: "You may not add records to this form. Ask the app's administrator.",
  fillOnly: "Fill in only",
  fillOnlyHint: "You may submit records to this form but not view them.",
  fillNow: "Fill in",
};

/** English singulars, by the key path of the text they complete. */
export const enPlurals = {
  grid: { total_one: "{{total}} record" },
  record: {
    confirmDeleteSelected_one: "Delete the selected record?",
    deletedCount_one: "{{count}} deleted (restorable from the recycle bin)",
  },
  fill: { rows_one: "{{count}} row" },
  views: {
    importDone_one: "Imported {{count}} record",
    importFailed_one: "Import failed: {{count}} problem, nothing was written",
    importSkipped_one: "{{count}} row has errors and was not imported",
  },
  flows: { steps_one: "{{count}} node" },
  rules: { daysBefore_one: "{{count}} day before", daysAfter_one: "{{count}} day after" },
};

type Table = { [key: string]: string | Table };

/** `base` with `extra` merged in, key by key (neither is changed). */
export function merged<T extends Table>(base: T, extra: Table): T {
  const out: Table = { ...base };
  for (const [key, value] of Object.entries(extra)) {
    const current = out[key];
    out[key] = typeof value === "object" && typeof current === "object" ? merged(current, value) : value;
  }
  return out as T;
}
