/**
 * The form designer's state: the fields of the form being designed (pure functions that add,
 * move, remove and change them), the app definition a publish sends, and where the server's
 * definition errors (`forms[2].fields[5].expr`) belong in the designer.
 */
import type { AppDef, FieldDef, FormDef, Issue, Label } from "../api/types";

export interface PaletteType {
  type: string;
  title: { zh: string; en: string };
  example: Record<string, unknown> & { type: string };
  titleable?: boolean;
}

export interface PaletteGroup {
  group: string;
  title: { zh: string; en: string };
  types: PaletteType[];
}

/** A key not used by any of `fields`: the type's name with the first free number. */
export function freshKey(fields: FieldDef[], type: string): string {
  const taken = new Set(fields.map((f) => f.key));
  const base = type.replace(/[^a-z0-9_]/g, "_");
  for (let n = 1; ; n++) {
    const key = `${base}_${n}`;
    if (!taken.has(key)) return key;
  }
}

/** `fields` with a new field of `kind` inserted at `index` (the end by default), labelled with the type's title. */
export function addField(fields: FieldDef[], kind: PaletteType, index = fields.length): { fields: FieldDef[]; key: string } {
  const key = freshKey(fields, kind.type);
  const field: FieldDef = { ...structuredClone(kind.example), key, type: kind.type, label: { ...kind.title } };
  const next = [...fields];
  next.splice(Math.max(0, Math.min(index, fields.length)), 0, field);
  return { fields: next, key };
}

/** Drag ids of palette entries are this prefix plus the type; field rows use their key. */
export const PALETTE_DRAG = "palette:";

/**
 * The result of dropping `activeId` (a palette entry or a field row) on `overId` (a field
 * row, or the empty list): a new field takes the place of the field it was dropped on (the
 * end otherwise), a dragged row moves there. `null` when nothing changes.
 */
export function dropOnList(
  fields: FieldDef[],
  activeId: string,
  overId: string,
  kinds: Map<string, PaletteType>,
): { fields: FieldDef[]; added?: string } | null {
  const target = fields.findIndex((f) => f.key === overId);
  const at = target < 0 ? fields.length : target;
  if (activeId.startsWith(PALETTE_DRAG)) {
    const kind = kinds.get(activeId.slice(PALETTE_DRAG.length));
    if (!kind) return null;
    const result = addField(fields, kind, at);
    return { fields: result.fields, added: result.key };
  }
  const from = fields.findIndex((f) => f.key === activeId);
  const moved = moveField(fields, from, at);
  return moved === fields ? null : { fields: moved };
}

/** `fields` with the one at `from` moved to `to` (clamped). */
export function moveField(fields: FieldDef[], from: number, to: number): FieldDef[] {
  if (from < 0 || from >= fields.length) return fields;
  const target = Math.max(0, Math.min(to, fields.length - 1));
  if (target === from) return fields;
  const next = [...fields];
  const [moved] = next.splice(from, 1);
  next.splice(target, 0, moved);
  return next;
}

export function removeField(fields: FieldDef[], key: string): FieldDef[] {
  return fields.filter((f) => f.key !== key);
}

/** `fields` with the field `key` changed by `patch`; an `undefined` (or empty) value removes that property. */
export function updateField(fields: FieldDef[], key: string, patch: Partial<FieldDef>): FieldDef[] {
  return fields.map((f) => {
    if (f.key !== key) return f;
    const next: FieldDef = { ...f };
    for (const [name, value] of Object.entries(patch)) {
      if (value === undefined || value === "" || value === false) delete next[name];
      else next[name] = value;
    }
    return next;
  });
}

/**
 * `field` as another type: the properties that mean the same keep their values (key, label,
 * help, required, unique, visible_when), the new type's example supplies the rest.
 */
export function changeType(field: FieldDef, kind: PaletteType): FieldDef {
  const kept: Partial<FieldDef> = {};
  for (const name of ["label", "help", "required", "unique", "visible_when", "readonly_when", "width"]) {
    if (field[name] !== undefined) kept[name] = field[name];
  }
  return { ...structuredClone(kind.example), ...kept, key: field.key, type: kind.type } as FieldDef;
}

/** A label in one language changed, the other kept. */
export function setLabel(label: Label, lang: "zh" | "en", text: string): Label {
  const base = typeof label === "string" ? { zh: label } : { ...(label ?? {}) };
  const next: { zh?: string | null; en?: string | null } = { ...base, [lang]: text };
  if (!next[lang]) delete next[lang];
  return next;
}

/**
 * The definition to plan and publish: the live one (with its `_revision`) with `formKey`'s
 * fields replaced. A title field that no longer exists is dropped.
 */
export function buildDefinition(app: AppDef, formKey: string, fields: FieldDef[]): AppDef {
  const forms: FormDef[] = app.forms.map((form) => {
    if (form.key !== formKey) return form;
    const next: FormDef = { ...form, fields };
    if (next.title_field && !fields.some((f) => f.key === next.title_field)) delete next.title_field;
    return next;
  });
  return { ...app, forms };
}

/** The server's issues for `formKey`'s fields, by field key (index paths resolved against `fields`). */
export function issuesByField(issues: Issue[], app: AppDef, formKey: string, fields: FieldDef[]): Record<string, Issue[]> {
  const formIndex = app.forms.findIndex((f) => f.key === formKey);
  const out: Record<string, Issue[]> = {};
  const pattern = /^forms\[(\d+)\]\.fields\[(\d+)\]/;
  for (const issue of issues) {
    const match = pattern.exec(issue.path ?? "");
    if (!match || Number(match[1]) !== formIndex) continue;
    const field = fields[Number(match[2])];
    if (!field) continue;
    (out[field.key] ??= []).push(issue);
  }
  return out;
}

/** The property an issue path points at inside its field (`expr`, `options`, ...), if any. */
export function issueProperty(issue: Issue): string | undefined {
  return /^forms\[\d+\]\.fields\[\d+\]\.([a-z_]+)/.exec(issue.path ?? "")?.[1];
}

/** A new app with one empty form: what `POST /apps` gets from the "new app" dialog. */
export function newAppDefinition(key: string, name: { zh: string; en: string }): Record<string, unknown> {
  return {
    format: "jimu.app/1",
    key,
    name,
    version: "0.1.0",
    forms: [{ key: "form1", name: { zh: "表单1", en: "Form 1" }, fields: [] }],
  };
}
