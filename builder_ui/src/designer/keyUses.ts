/**
 * Where a draft field's key is used in the form being designed, so that renaming the key can be
 * refused while something still names it (issue 16): formulas (a formula field, a formula
 * default, show/hide and read-only conditions, the form's validations), lookups and rollups
 * through it, and data-linkage conditions that match on it. Rewriting those texts in place was
 * not chosen: a formula names other forms' fields by the same bare words after a relation
 * (`customer.name`), so a textual rewrite without the engine's resolver could change the
 * meaning of a formula it does not understand; a refusal that lists the places is always safe.
 */
import type { FieldDef, FormDef } from "../api/types";

/** One place that names the key: the field (or "validations") and which property. */
export interface KeyUse {
  /** The field that holds the reference (its key), or null for a form-level validation. */
  field: string | null;
  /** The subform that field is a row field of, if any. */
  subform?: string;
  property: "expr" | "default" | "visible_when" | "readonly_when" | "validation" | "relation" | "linkage";
}

const IDENT = /[A-Za-z_]/;
const IDENT_PART = /[A-Za-z0-9_]/;

/** The field paths a formula names (`amount`, `customer.name`, `{not}.qty` → ["not", "qty"]):
 * words and braced names outside string literals, joined by dots, leaving out function names
 * (a word followed by `(`) and numbers. Unfinished text is read as far as it goes. */
export function formulaPaths(source: string): string[][] {
  const paths: string[][] = [];
  let i = 0;
  let current: string[] | null = null;
  const end = () => {
    if (current) paths.push(current);
    current = null;
  };
  while (i < source.length) {
    const ch = source[i];
    if (ch === '"' || ch === "'") {
      end();
      i++;
      while (i < source.length && source[i] !== ch) i += source[i] === "\\" ? 2 : 1;
      i++;
      continue;
    }
    if (/[0-9]/.test(ch)) {
      end();
      while (i < source.length && /[0-9A-Za-z_.]/.test(source[i])) i++;
      continue;
    }
    let name: string | null = null;
    if (ch === "{") {
      const close = source.indexOf("}", i + 1);
      name = source.slice(i + 1, close < 0 ? source.length : close);
      i = close < 0 ? source.length : close + 1;
    } else if (IDENT.test(ch)) {
      let j = i + 1;
      while (j < source.length && IDENT_PART.test(source[j])) j++;
      name = source.slice(i, j);
      i = j;
    }
    if (name !== null) {
      let j = i;
      while (j < source.length && /\s/.test(source[j])) j++;
      if (source[j] === "(") {
        end(); // a function call
        continue;
      }
      if (current) current.push(name);
      else current = [name];
      if (source[j] === ".") {
        i = j + 1;
        while (i < source.length && /\s/.test(source[i])) i++;
        continue;
      }
      end();
      continue;
    }
    end();
    i++;
  }
  end();
  return paths;
}

function names(source: unknown, path: string[]): boolean {
  if (typeof source !== "string") return false;
  return formulaPaths(source).some((found) => path.every((part, index) => found[index] === part));
}

function formulaUses(field: FieldDef, path: string[], subform: string | undefined, uses: KeyUse[]): void {
  const at = (property: KeyUse["property"]) => uses.push({ field: field.key, ...(subform ? { subform } : {}), property });
  if (field.type === "formula" && names(field.expr, path)) at("expr");
  const value = field.default;
  if (value && typeof value === "object" && "expr" in value && names((value as { expr: unknown }).expr, path)) at("default");
  if (names(field.visible_when, path)) at("visible_when");
  if (names(field.readonly_when, path)) at("readonly_when");
}

/** Where `key` — a field of the form, or with `subform` a row field of that subform — is used
 * in the draft form `form` (see the module docstring); empty when it may be renamed. */
export function keyUses(form: Pick<FormDef, "fields" | "validations">, key: string, subform?: string): KeyUse[] {
  const uses: KeyUse[] = [];
  const fromForm = subform ? [subform, key] : [key]; // how the form's own formulas name it
  for (const field of form.fields) {
    if (!(subform === undefined && field.key === key)) formulaUses(field, fromForm, undefined, uses);
    const via = (field as { relation?: unknown }).relation;
    if (subform === undefined && via === key) uses.push({ field: field.key, property: "relation" });
    if (subform !== undefined && via === subform && (field as { field?: unknown }).field === key)
      uses.push({ field: field.key, property: "relation" });
    const linkage = (field.default as { linkage?: { when?: { equals?: unknown }[] } } | undefined)?.linkage;
    if (subform === undefined && linkage?.when?.some((condition) => condition.equals === key))
      uses.push({ field: field.key, property: "linkage" });
    if (field.type === "subform")
      for (const row of field.fields ?? []) {
        // Row formulas see their own row's fields by bare key, and the form's fields too.
        if (field.key === subform && row.key === key) continue;
        if (field.key === subform || subform === undefined) formulaUses(row, [key], field.key, uses);
      }
  }
  if (subform === undefined)
    for (const rule of form.validations ?? []) if (names(rule.expr, [key])) uses.push({ field: null, property: "validation" });
  return uses;
}
