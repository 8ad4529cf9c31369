/**
 * The grid's filter builder model: conditions on fields, joined by AND or OR, written out as a
 * formula the server runs in the database (`GET …/records?filter=`), e.g.
 * `level = "A" AND annual_purchase >= 1000000`.
 */
import type { FieldDef } from "../api/types";
import { INTEGER_TYPES, NUMBER_TYPES } from "./fieldTypes";

export type Operator = "eq" | "ne" | "gt" | "ge" | "lt" | "le" | "contains" | "blank" | "notBlank";

export interface Condition {
  field: string;
  op: Operator;
  value?: string | number | boolean | null;
}

export interface FilterModel {
  join: "AND" | "OR";
  conditions: Condition[];
}

const SYMBOLS: Record<string, string> = { eq: "=", ne: "<>", gt: ">", ge: ">=", lt: "<", le: "<=" };
const RESERVED = new Set(["and", "or", "not", "true", "false", "null"]);
const NUMBER = /^-?\d+(\.\d+)?$/;
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** A text literal of the formula language: quotes inside are doubled. */
export function textLiteral(text: string): string {
  return `"${text.replaceAll('"', '""')}"`;
}

export function fieldRef(key: string): string {
  return RESERVED.has(key.toLowerCase()) ? `{${key}}` : key;
}

function literal(field: FieldDef, value: Condition["value"]): string | null {
  if (value === null || value === undefined || value === "") return null;
  if (NUMBER_TYPES.has(field.type) || INTEGER_TYPES.has(field.type)) {
    const text = String(value).trim();
    return NUMBER.test(text) ? text : null;
  }
  if (field.type === "checkbox") return value === true || value === "true" ? "TRUE" : "FALSE";
  if (field.type === "date") {
    const match = DATE.exec(String(value));
    return match ? `DATE(${Number(match[1])}, ${Number(match[2])}, ${Number(match[3])})` : null;
  }
  return textLiteral(String(value));
}

/** One condition as a formula, or null when it is incomplete (such conditions are left out). */
export function conditionExpr(condition: Condition, field: FieldDef | undefined): string | null {
  if (!field) return null;
  const ref = fieldRef(field.key);
  if (condition.op === "blank") return `ISBLANK(${ref})`;
  if (condition.op === "notBlank") return `NOT ISBLANK(${ref})`;
  const value = literal(field, condition.value);
  if (value === null) return null;
  if (condition.op === "contains") return `NOT ISBLANK(SEARCH(${value}, ${ref}))`;
  return `${ref} ${SYMBOLS[condition.op]} ${value}`;
}

/** The whole filter as one formula ("" when there is no complete condition). */
export function filterExpr(model: FilterModel, fields: FieldDef[]): string {
  const byKey = new Map(fields.map((f) => [f.key, f]));
  const parts = model.conditions
    .map((c) => conditionExpr(c, byKey.get(c.field)))
    .filter((p): p is string => p !== null);
  if (model.join === "OR" && parts.length > 1) return parts.map((p) => `(${p})`).join(" OR ");
  return parts.join(" AND ");
}
