/**
 * Pure helpers of the designer's property panel: field references for the formula editor
 * (chips), edits of a select's options table, the kinds of defaults (literal, formula, data
 * linkage) and which limits (min/max/pattern) and settings a field type has.
 */
import type { AppDef, FieldDef, Label, SelectOption } from "../api/types";
import { hasTrait, traitsOf } from "../forms/fieldTypes";
import { labelText } from "../forms/labels";

// ---------------------------------------------------------------- formula references ----

/** Words a bare reference cannot be (DESIGN §6): a field with such a key is written in braces. */
const RESERVED = new Set(["TRUE", "FALSE", "NULL", "AND", "OR", "NOT"]);
const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** One part of a reference: the key as it is when it is a plain name, else in braces. */
export function refPart(key: string): string {
  return NAME.test(key) && !RESERVED.has(key.toUpperCase()) ? key : `{${key}}`;
}

/** The canonical reference of a field path: `amount`, `customer.name`, `{not}.qty`. */
export function fieldReference(path: string[]): string {
  return path.map(refPart).join(".");
}

/** `text` with `insert` replacing the selection `start`..`end`; `caret` is where typing goes on. */
export function insertAt(text: string, start: number, end: number, insert: string): { text: string; caret: number } {
  const from = Math.max(0, Math.min(start, text.length));
  const to = Math.max(from, Math.min(end, text.length));
  return { text: text.slice(0, from) + insert + text.slice(to), caret: from + insert.length };
}

export interface Chip {
  /** What is inserted: the canonical reference. */
  ref: string;
  /** The field keys along the path (for test ids). */
  path: string[];
  /** What the chip shows: the labels along the path. */
  text: string;
  /** The chip reads through a subform or relation (a list when to-many or a subform). */
  via?: "subform" | "relation";
}

/** Types formulas cannot read (no value). */
const NO_VALUE = new Set(["section"]);

/**
 * The chips of a formula editor: every field of the form by label, then `sub.field` for each
 * subform's fields and `rel.field` for each relation's target fields. `rowFields` are the
 * fields of the subform row a formula belongs to (they come first, as bare references);
 * `exclude` is the field the formula belongs to (it cannot read itself).
 */
export function formulaChips(fields: FieldDef[], app: AppDef | undefined, lang: string, rowFields: FieldDef[] = [], exclude?: string): Chip[] {
  const chips: Chip[] = [];
  const label = (f: FieldDef) => labelText(f.label, lang, f.key);
  for (const f of [...rowFields, ...fields]) {
    if (NO_VALUE.has(f.type) || f.key === exclude || chips.some((c) => c.path.length === 1 && c.path[0] === f.key)) continue;
    chips.push({ ref: fieldReference([f.key]), path: [f.key], text: label(f) });
  }
  for (const f of fields) {
    const inner =
      f.type === "subform" ? (f.fields ?? []) : f.type === "relation" ? (app?.forms.find((x) => x.key === f.target)?.fields ?? []) : [];
    for (const sub of inner) {
      // one level deep: a relation's own relations and subforms are not followed (as the checker)
      if (NO_VALUE.has(sub.type) || (f.type === "relation" && sub.type === "subform")) continue;
      chips.push({
        ref: fieldReference([f.key, sub.key]),
        path: [f.key, sub.key],
        text: `${label(f)}.${label(sub)}`,
        via: f.type === "subform" ? "subform" : "relation",
      });
    }
  }
  return chips;
}

/** "Line 2, column 3"-style position of a check error, when it has one. */
export function errorPosition(issue: { line?: number | null; column?: number | null } | undefined): { line: number; column: number } | null {
  if (!issue || typeof issue.line !== "number" || typeof issue.column !== "number") return null;
  return { line: issue.line, column: issue.column };
}

/** The offset in `text` of a 1-based line and column (clamped), to put the caret at an error. */
export function offsetOf(text: string, line: number, column: number): number {
  const lines = text.split("\n");
  let offset = 0;
  for (let i = 0; i < Math.min(line - 1, lines.length - 1); i++) offset += lines[i].length + 1;
  const current = lines[Math.min(line - 1, lines.length - 1)] ?? "";
  return offset + Math.max(0, Math.min(column - 1, current.length));
}

// ---------------------------------------------------------------------- options table ----

/** Colours offered for options (the spec allows any #rgb/#rrggbb; these read well as tags). */
export const OPTION_COLORS = ["#1677ff", "#52c41a", "#faad14", "#f5222d", "#722ed1", "#13c2c2", "#eb2f96", "#fa8c16", "#8c8c8c"];

/** A value not used by `options`: `option1`, `option2`, ... */
export function freshOptionValue(options: SelectOption[]): string {
  const taken = new Set(options.map((o) => o.value));
  for (let n = options.length + 1; ; n++) if (!taken.has(`option${n}`)) return `option${n}`;
}

export function addOption(options: SelectOption[]): SelectOption[] {
  const value = freshOptionValue(options);
  return [...options, { value, label: { zh: value, en: value } }];
}

export function removeOption(options: SelectOption[], index: number): SelectOption[] {
  return options.filter((_, i) => i !== index);
}

/** `options` with the one at `from` moved to `to` (unchanged when either is out of range). */
export function moveOption(options: SelectOption[], from: number, to: number): SelectOption[] {
  if (from < 0 || from >= options.length || to < 0 || to >= options.length || from === to) return options;
  const next = [...options];
  const [moved] = next.splice(from, 1);
  next.splice(to, 0, moved);
  return next;
}

/** `options` with the option at `index` changed: its value, one label language, or its colour (undefined removes it). */
export function setOption(
  options: SelectOption[],
  index: number,
  change: { value?: string; zh?: string; en?: string; color?: string | null },
): SelectOption[] {
  return options.map((o, i) => {
    if (i !== index) return o;
    const next: SelectOption = { ...o };
    if (change.value !== undefined) next.value = change.value;
    if (change.zh !== undefined || change.en !== undefined) {
      const label: { zh?: string | null; en?: string | null } = typeof o.label === "string" ? { zh: o.label } : { ...(o.label ?? {}) };
      for (const lang of ["zh", "en"] as const) {
        const text = change[lang];
        if (text === undefined) continue;
        if (text) label[lang] = text;
        else delete label[lang];
      }
      if (Object.keys(label).length) next.label = label as Label;
      else delete next.label;
    }
    if (change.color !== undefined) {
      if (change.color) next.color = change.color;
      else delete next.color;
    }
    return next;
  });
}

/** Options as lines `value|中文|English` (the paste box). */
export function optionsText(options: SelectOption[] | undefined): string {
  return (options ?? [])
    .map((o) => {
      const label = typeof o.label === "string" ? { zh: o.label } : (o.label ?? {});
      return [o.value, label.zh ?? "", label.en ?? ""].join("|");
    })
    .join("\n");
}

/** Lines `value|中文|English` as options; colours of values already there are kept. */
export function parseOptions(text: string, previous: SelectOption[] = []): SelectOption[] {
  return text
    .split("\n")
    .map((line) => line.split("|").map((part) => part.trim()))
    .filter(([value]) => value)
    .map(([value, zh, en]) => {
      const option: SelectOption = { value, label: { zh: zh || value, en: en || zh || value } };
      const color = previous.find((o) => o.value === value)?.color;
      return color ? { ...option, color } : option;
    });
}

// --------------------------------------------------------------------------- defaults ----

export interface LinkageCondition {
  /** The other form's field key (or `_id`). */
  field: string;
  /** This form's field key whose value it must equal. */
  equals: string;
}

export interface Linkage {
  form: string;
  when: LinkageCondition[];
  take: string;
}

export type DefaultKind = "none" | "literal" | "formula" | "linkage";

/** What kind of default a field has. */
export function defaultKind(value: unknown): DefaultKind {
  if (value === undefined || value === null) return "none";
  if (typeof value === "object" && !Array.isArray(value)) {
    if ("expr" in value) return "formula";
    if ("linkage" in value) return "linkage";
    return "none";
  }
  return "literal";
}

export const MAX_LINKAGE_CONDITIONS = 3;

/** The linkage of a default, or a new empty one. */
export function linkageOf(value: unknown): Linkage {
  const found = defaultKind(value) === "linkage" ? (value as { linkage: Partial<Linkage> }).linkage : {};
  return { form: found.form ?? "", when: Array.isArray(found.when) && found.when.length ? found.when : [{ field: "", equals: "" }], take: found.take ?? "" };
}

/** The default a linkage is stored as (DESIGN's `{"linkage": {...}}`). */
export function linkageDefault(linkage: Linkage): { linkage: Linkage } {
  return { linkage };
}

export function addCondition(linkage: Linkage): Linkage {
  if (linkage.when.length >= MAX_LINKAGE_CONDITIONS) return linkage;
  return { ...linkage, when: [...linkage.when, { field: "", equals: "" }] };
}

export function removeCondition(linkage: Linkage, index: number): Linkage {
  if (linkage.when.length <= 1) return linkage;
  return { ...linkage, when: linkage.when.filter((_, i) => i !== index) };
}

export function setCondition(linkage: Linkage, index: number, change: Partial<LinkageCondition>): Linkage {
  return { ...linkage, when: linkage.when.map((c, i) => (i === index ? { ...c, ...change } : c)) };
}

/** A linkage with another source form: its conditions and taken field no longer apply. */
export function setLinkageForm(linkage: Linkage, form: string): Linkage {
  return form === linkage.form ? linkage : { form, when: linkage.when.map((c) => ({ field: "", equals: c.equals })), take: "" };
}

/** What is still missing before a linkage means something (property names), empty when complete. */
export function linkageMissing(linkage: Linkage): string[] {
  const missing: string[] = [];
  if (!linkage.form) missing.push("form");
  if (linkage.when.some((c) => !c.field || !c.equals)) missing.push("when");
  if (!linkage.take) missing.push("take");
  return missing;
}

/** Types whose default can be typed in (a literal of the field's own type). */
export const LITERAL_DEFAULT_TYPES = new Set([
  "text", "textarea", "email", "phone", "url",
  "number", "integer", "money", "percent", "rating",
  "select", "multiselect", "checkbox", "date", "datetime", "time",
]);

// ------------------------------------------------------------------- limits, settings ----

/** Types the user fills in (they have required, default, limits); computed and layout types do not. */
export const NO_VALUE_TYPES = new Set(["section", "subform"]);

export function isValueField(type: string): boolean {
  return !hasTrait(type, "computed") && !NO_VALUE_TYPES.has(type);
}

/**
 * Whether a field can be "used often to filter and sort" (`index: true`): it keeps its value in
 * a column of its own (the type's `source` trait). Lookups, rollups, subforms, sections, system
 * fields and relations to many do not; a formula does when it is stored (the server says so at
 * `index` when it is computed when read).
 */
export function isIndexable(field: FieldDef): boolean {
  if (field.type === "formula") return true;
  if (field.type === "relation") return !field.many;
  return traitsOf(field.type)?.source === "column";
}

const VALUE_LIMITS = new Set(["number", "integer", "money", "percent"]);
const LENGTH_LIMITS = new Set(["text", "textarea", "rich_text", "email", "phone", "url"]);
const COUNT_LIMITS = new Set(["multiselect", "users", "departments"]);

/** What `min`/`max` bound for a type: a number's value, a text's length, a list's count; null if nothing. */
export function limitKind(type: string): "value" | "length" | "count" | null {
  if (VALUE_LIMITS.has(type)) return "value";
  if (LENGTH_LIMITS.has(type)) return "length";
  if (COUNT_LIMITS.has(type)) return "count";
  return null;
}

/** Types a `pattern` (regular expression) applies to. */
export function hasPattern(type: string): boolean {
  return LENGTH_LIMITS.has(type) && type !== "rich_text";
}

/** Patterns users often need, by name (messages `props.pattern_<name>`). */
export const PATTERN_PRESETS: { name: string; pattern: string }[] = [
  { name: "digits", pattern: "[0-9]+" },
  { name: "letters", pattern: "[A-Za-z]+" },
  { name: "mobile", pattern: "1[3-9][0-9]{9}" },
  { name: "postcode", pattern: "[0-9]{6}" },
  { name: "idcard", pattern: "[0-9]{17}[0-9Xx]" },
  { name: "code", pattern: "[A-Z]{2,4}-[0-9]{3,6}" },
];

export const WIDTHS = ["full", "half", "third", "two_thirds", "quarter"] as const;

/** Common ISO 4217 currencies offered for money fields (any three capital letters are valid). */
export const CURRENCIES = ["CNY", "USD", "EUR", "HKD", "JPY", "GBP", "TWD", "SGD", "KRW", "AUD"];

/** A serial pattern's sample for today: `HT-{YYYY}{MM}-{0000}` → `HT-202406-0001`. */
export function serialSample(pattern: string, today: Date): string {
  const pad = (n: number, width: number) => String(n).padStart(width, "0");
  const parts: Record<string, string> = {
    YYYY: String(today.getFullYear()),
    YY: pad(today.getFullYear() % 100, 2),
    MM: pad(today.getMonth() + 1, 2),
    DD: pad(today.getDate(), 2),
  };
  return pattern.replace(/\{([^{}]*)\}/g, (whole, token: string) => {
    if (token in parts) return parts[token];
    if (/^0{1,10}$/.test(token)) return pad(1, token.length);
    return whole;
  });
}

/** The fields of this form a lookup may read through (to-one relations). */
export function lookupVias(fields: FieldDef[]): FieldDef[] {
  return fields.filter((f) => f.type === "relation" && !f.many);
}

/** The fields of this form a rollup may aggregate over (relations and subforms). */
export function rollupVias(fields: FieldDef[]): FieldDef[] {
  return fields.filter((f) => f.type === "relation" || f.type === "subform");
}

/** The fields behind a relation (its target form's) or a subform (its row's). */
export function fieldsBehind(via: FieldDef | undefined, app: AppDef | undefined): FieldDef[] {
  if (!via) return [];
  if (via.type === "subform") return via.fields ?? [];
  if (via.type === "relation") return app?.forms.find((f) => f.key === via.target)?.fields ?? [];
  return [];
}

const NUMBER_LIKE = new Set(["number", "integer", "money", "percent", "rating", "formula", "rollup", "lookup"]);

/** Aggregates a rollup of a field of `type` may use (sum and avg need numbers). */
export function aggregatesFor(type: string | undefined): string[] {
  return type && !NUMBER_LIKE.has(type) ? ["count", "min", "max"] : ["sum", "avg", "min", "max", "count"];
}
