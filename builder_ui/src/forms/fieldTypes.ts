/** What the UI does per field type: which are numbers, which are computed, which fill inputs exist. */
import type { FieldDef } from "../api/types";

export const NUMBER_TYPES = new Set(["number", "money", "percent"]);
export const INTEGER_TYPES = new Set(["integer", "rating"]);
export const TEXT_TYPES = new Set(["text", "textarea", "rich_text", "email", "phone", "url"]);
export const COMPUTED_TYPES = new Set([
  "formula",
  "serial",
  "lookup",
  "rollup",
  "created_by",
  "created_at",
  "updated_by",
  "updated_at",
]);
/** Layout only: no value of their own. */
export const LAYOUT_TYPES = new Set(["section"]);

export const isComputed = (field: FieldDef): boolean => COMPUTED_TYPES.has(field.type);

/** Types the filter builder can write conditions for, and which operators make sense. */
export function filterOperators(field: FieldDef): string[] {
  if (NUMBER_TYPES.has(field.type) || INTEGER_TYPES.has(field.type) || field.type === "date")
    return ["eq", "ne", "gt", "ge", "lt", "le", "blank", "notBlank"];
  if (field.type === "select") return ["eq", "ne", "blank", "notBlank"];
  if (field.type === "checkbox") return ["eq"];
  if (TEXT_TYPES.has(field.type)) return ["eq", "ne", "contains", "blank", "notBlank"];
  if (field.type === "formula" || field.type === "serial") return ["eq", "ne", "contains", "blank", "notBlank"];
  return [];
}

/** Antd grid span (of 24) per definition width. */
export function span(field: FieldDef): number {
  switch (field.width) {
    case "half":
      return 12;
    case "third":
      return 8;
    case "two_thirds":
      return 16;
    case "quarter":
      return 6;
    default:
      return 24;
  }
}
