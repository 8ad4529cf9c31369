/** From the fill page's state to the record body the API takes, and server issues to field errors. */
import type { FieldDef, Issue } from "../api/types";
import { isComputed } from "./fieldTypes";

type Obj = Record<string, unknown>;
const isRef = (v: unknown): v is { _id: number } => typeof v === "object" && v !== null && "_id" in v;
const isPerson = (v: unknown): v is { id: number } => typeof v === "object" && v !== null && "id" in v;

/** A subform row as input: its `_id` when it exists (else it is added) and its own values. */
function rowInput(fields: FieldDef[], row: Obj): Obj {
  const body: Obj = {};
  if (row._id !== undefined) body._id = row._id;
  for (const field of fields) {
    if (!isComputed(field) && field.key in row) body[field.key] = inputValue(field, row[field.key]);
  }
  return body;
}

/** A value as input: relations by `_id`, people by `id`, subform rows without computed cells, "" as blank. */
export function inputValue(field: FieldDef, value: unknown): unknown {
  if (field.type === "subform") return Array.isArray(value) ? value.map((row) => rowInput(field.fields ?? [], row as Obj)) : [];
  if (value === undefined || value === "") return null;
  if (field.type === "user" || field.type === "users") {
    if (Array.isArray(value)) return value.map((v) => (isPerson(v) ? v.id : v));
    return isPerson(value) ? value.id : value;
  }
  if (field.type === "relation") {
    if (Array.isArray(value)) return value.map((v) => (isRef(v) ? v._id : v));
    return isRef(value) ? value._id : value;
  }
  return value;
}

/** The literal default of a field for a new record (formula defaults are left to the server). */
export function literalDefault(field: FieldDef): unknown {
  const value = field.default;
  if (value === null || value === undefined) return undefined;
  if (typeof value === "object" && !Array.isArray(value)) return undefined;
  if (["number", "money", "percent"].includes(field.type) && typeof value === "number") return String(value);
  return value;
}

/** The body of a create or update: only the given keys, in input form. */
export function recordBody(fields: FieldDef[], values: Obj, keys: Set<string>): Obj {
  const body: Obj = {};
  for (const field of fields) {
    if (keys.has(field.key) && field.key in values) body[field.key] = inputValue(field, values[field.key]);
  }
  return body;
}

/** Server issues by the field they name (`items[3].qty` → `items`); the rest under "". */
export function issuesByField(issues: Issue[], keys: Set<string>): Record<string, string[]> {
  const result: Record<string, string[]> = {};
  for (const issue of issues) {
    const head = issue.path.split(/[.[]/)[0];
    const key = keys.has(head) ? head : "";
    (result[key] ??= []).push(issue.message);
  }
  return result;
}
