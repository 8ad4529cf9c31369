/** What the UI does per field type: which are numbers, which fill inputs exist — and the facts
 * the server declares about each type (its traits, from `GET /schema/field-types`), which the UI
 * reads here instead of keeping its own lists. */
import type { FieldDef } from "../api/types";

export const NUMBER_TYPES = new Set(["number", "money", "percent"]);
export const INTEGER_TYPES = new Set(["integer", "rating"]);
export const TEXT_TYPES = new Set(["text", "textarea", "rich_text", "email", "phone", "url"]);
/** Layout only: no value of their own. */
export const LAYOUT_TYPES = new Set(["section"]);

/** A field type's traits as the server publishes them (engine/forms/field_types/base.py `Traits`). */
export interface FieldTraits {
  computed: boolean;
  portable: boolean;
  sortable: boolean;
  many_valued: boolean;
  is_file: boolean;
  refers_to: "user" | "department" | "record" | null;
  publicly_fillable: boolean;
  link_key: boolean;
  importable: boolean;
  live_scalar: boolean;
  source: "column" | "formula" | "lookup" | "rollup" | "system" | "rows" | "links" | "none";
  linkage_from: string[];
  compare_family: string | null;
}

/** The palette's shape as far as traits go (the designer's `PaletteGroup` has more). */
export interface TraitsSource {
  types: { type: string; traits: FieldTraits }[];
}

let known = new Map<string, FieldTraits>();

/** Learn every type's traits from the palette (the app shell does this once, before any page). */
export function setFieldTypes(palette: TraitsSource[]): void {
  known = new Map(palette.flatMap((group) => group.types.map((kind) => [kind.type, kind.traits] as const)));
}

/** Whether the traits have been loaded. */
export const fieldTypesLoaded = (): boolean => known.size > 0;

/** The traits of `type`; an unknown type (a newer server's) has none, so every test is false. */
export const traitsOf = (type: string): FieldTraits | undefined => known.get(type);

/** Whether fields of `type` have trait `name` set (false for an unknown type). */
export const hasTrait = (type: string, name: "computed" | "sortable" | "many_valued" | "is_file" | "publicly_fillable" | "link_key" | "importable"): boolean =>
  traitsOf(type)?.[name] ?? false;

export const isComputed = (field: FieldDef): boolean => hasTrait(field.type, "computed");

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
