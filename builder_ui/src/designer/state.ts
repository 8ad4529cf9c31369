/**
 * The form designer's state: the fields of the form being designed (pure functions that add,
 * move, remove and change them, also inside subforms), how the canvas lays them out (sections,
 * widths), the form's settings, the app definition a publish sends, and where the server's
 * definition errors (`forms[2].fields[5].expr`, `forms[2].fields[5].fields[0].type`) belong.
 */
import type { AppDef, FieldDef, FormDef, Issue, Label, Validation } from "../api/types";

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
/** Drag ids of a subform's rows: `sub:<subform>:<key>`. */
export const SUB_DRAG = "sub:";
/** Drop id of the end of a subform's list: `subdrop:<subform>`. */
export const SUB_DROP = "subdrop:";
/** Drop id of the end of a section's group: `sectionend:<section>`. */
export const SECTION_END = "sectionend:";
/** Drop id of the end of the form's list (and of the empty form). */
export const LIST_DROP = "field-list";

export const subDragId = (parent: string, key: string): string => `${SUB_DRAG}${parent}:${key}`;

/** Where a drag id points: a palette type, a form-level field, a sub-field or the end of a list. */
type Place =
  | { kind: "palette"; type: string }
  | { kind: "field"; key: string }
  | { kind: "sub"; parent: string; key?: string }
  | { kind: "sectionEnd"; key: string }
  | { kind: "end" };

function place(id: string): Place {
  if (id.startsWith(PALETTE_DRAG)) return { kind: "palette", type: id.slice(PALETTE_DRAG.length) };
  if (id.startsWith(SUB_DROP)) return { kind: "sub", parent: id.slice(SUB_DROP.length) };
  if (id.startsWith(SUB_DRAG)) {
    const [parent, key] = id.slice(SUB_DRAG.length).split(":");
    return { kind: "sub", parent, key };
  }
  if (id.startsWith(SECTION_END)) return { kind: "sectionEnd", key: id.slice(SECTION_END.length) };
  if (id === LIST_DROP) return { kind: "end" };
  return { kind: "field", key: id };
}

/** What a drop did: the new fields (and the key of an added field, with its subform), or why it was refused. */
export type DropResult = { fields: FieldDef[]; added?: string; parent?: string } | { refused: "nested_subform" } | null;

/**
 * The result of dropping `activeId` (a palette entry, a field row or a subform's row) on
 * `overId` (a field row, a section header or area, a subform's row, the end of a subform or
 * of the form). A new field takes the place of the row it was dropped on (the end of the list
 * otherwise); dropped on a section header it becomes that section's first field, on the
 * section's area its last. A dragged
 * row moves there (rows stay in their own list: form-level fields do not move into
 * subforms). A subform dropped into a subform is refused. `null` when nothing changes.
 */
export function dropOnList(fields: FieldDef[], activeId: string, overId: string, kinds: Map<string, PaletteType>): DropResult {
  const from = place(activeId);
  const to = place(overId);
  if (to.kind === "sub") {
    const parent = fields.find((f) => f.key === to.parent && f.type === "subform");
    if (!parent) return null;
    const subs = parent.fields ?? [];
    const target = to.key === undefined ? subs.length : subs.findIndex((f) => f.key === to.key);
    const at = target < 0 ? subs.length : target;
    if (from.kind === "palette") {
      const kind = kinds.get(from.type);
      if (!kind) return null;
      const result = addSubField(fields, parent.key, kind, at);
      return "refused" in result ? result : { ...result, added: result.key, parent: parent.key };
    }
    if (from.kind === "field" && fields.find((f) => f.key === from.key)?.type === "subform" && from.key !== parent.key) return { refused: "nested_subform" };
    if (from.kind !== "sub" || from.parent !== parent.key || !from.key) return null;
    const moved = moveField(subs, subs.findIndex((f) => f.key === from.key), at);
    return moved === subs ? null : { fields: setSubFields(fields, parent.key, moved) };
  }
  if (to.kind === "sectionEnd") {
    // Into a section's area: its last field.
    let added: string | undefined;
    let list = fields;
    let item: FieldDef | undefined;
    if (from.kind === "palette") {
      const kind = kinds.get(from.type);
      if (!kind) return null;
      const result = addField(fields, kind, 0);
      item = result.fields[0];
      added = result.key;
    } else if (from.kind === "field") {
      item = fields.find((f) => f.key === from.key);
      list = fields.filter((f) => f.key !== from.key);
    }
    if (!item || item.type === "section") return null;
    const start = list.findIndex((f) => f.key === to.key);
    if (start < 0) return null;
    const after = list.findIndex((f, i) => i > start && f.type === "section");
    const next = [...list];
    next.splice(after < 0 ? list.length : after, 0, item);
    if (sameOrder(next, fields)) return null;
    return added ? { fields: next, added } : { fields: next };
  }
  const targetIndex = to.kind === "field" ? fields.findIndex((f) => f.key === to.key) : -1;
  const target = targetIndex < 0 ? undefined : fields[targetIndex];
  if (from.kind === "palette") {
    const kind = kinds.get(from.type);
    if (!kind) return null;
    const at = !target ? fields.length : target.type === "section" ? targetIndex + 1 : targetIndex;
    const result = addField(fields, kind, at);
    return { fields: result.fields, added: result.key };
  }
  if (from.kind !== "field") return null;
  const index = fields.findIndex((f) => f.key === from.key);
  if (index < 0 || from.key === target?.key) return null;
  if (target?.type === "section" && fields[index].type === "section") {
    // A section onto a section: it moves with its fields, to that section's place.
    const groups = groupSections(fields);
    const moved = moveSection(fields, from.key, groups.findIndex((g) => g.section === target) - groups.findIndex((g) => g.section === fields[index]));
    return moved === fields ? null : { fields: moved };
  }
  if (target?.type === "section") {
    // Onto a section header: first field of that section.
    const rest = fields.filter((f) => f.key !== from.key);
    const next = [...rest];
    next.splice(rest.indexOf(target) + 1, 0, fields[index]);
    return sameOrder(next, fields) ? null : { fields: next };
  }
  const moved = moveField(fields, index, target ? targetIndex : fields.length - 1);
  return moved === fields ? null : { fields: moved };
}

function sameOrder(a: FieldDef[], b: FieldDef[]): boolean {
  return a.length === b.length && a.every((f, i) => f === b[i]);
}

/** `fields` with the subform `parent`'s fields replaced. */
function setSubFields(fields: FieldDef[], parent: string, subs: FieldDef[]): FieldDef[] {
  return fields.map((f) => (f.key === parent ? { ...f, fields: subs } : f));
}

/**
 * `fields` with a new field of `kind` inside the subform `parent` (at `index`, the end by
 * default), keyed apart from the subform's fields and the form's; a subform is refused.
 */
export function addSubField(fields: FieldDef[], parent: string, kind: PaletteType, index?: number): { fields: FieldDef[]; key: string } | { refused: "nested_subform" } {
  if (kind.type === "subform") return { refused: "nested_subform" };
  const subs = fields.find((f) => f.key === parent)?.fields ?? [];
  const key = freshKey([...fields, ...subs], kind.type);
  const field: FieldDef = { ...structuredClone(kind.example), key, type: kind.type, label: { ...kind.title } };
  const next = [...subs];
  next.splice(Math.max(0, Math.min(index ?? subs.length, subs.length)), 0, field);
  return { fields: setSubFields(fields, parent, next), key };
}

/** A field of the form (`parent` unset) or of one of its subforms. */
export interface Selection {
  key: string;
  parent?: string;
}

/** A selection as one string: `key`, or `subform.key` for a sub-field (keys never contain dots). */
export const selectionId = (sel: Selection): string => (sel.parent ? `${sel.parent}.${sel.key}` : sel.key);

export function parseSelection(id: string): Selection {
  const [first, second] = id.split(".");
  return second === undefined ? { key: first } : { parent: first, key: second };
}

/** The fields next to the selection: the form's, or its subform's. */
export function siblings(fields: FieldDef[], sel: Selection): FieldDef[] {
  return sel.parent ? (fields.find((f) => f.key === sel.parent)?.fields ?? []) : fields;
}

export function fieldAt(fields: FieldDef[], sel: Selection | null): FieldDef | undefined {
  return sel ? siblings(fields, sel).find((f) => f.key === sel.key) : undefined;
}

/** `fields` with the selected field changed by `patch` (see updateField). */
export function patchAt(fields: FieldDef[], sel: Selection, patch: Partial<FieldDef>): FieldDef[] {
  if (!sel.parent) return updateField(fields, sel.key, patch);
  return setSubFields(fields, sel.parent, updateField(siblings(fields, sel), sel.key, patch));
}

/**
 * `fields` with the selected field replaced by `next` (a new key or type); `null` when the new
 * key is taken by a sibling, or when a subform would be nested in a subform.
 */
export function replaceAt(fields: FieldDef[], sel: Selection, next: FieldDef): FieldDef[] | null {
  const list = siblings(fields, sel);
  if (next.key !== sel.key && list.some((f) => f.key === next.key)) return null;
  if (sel.parent && next.type === "subform") return null;
  const replaced = list.map((f) => (f.key === sel.key ? next : f));
  return sel.parent ? setSubFields(fields, sel.parent, replaced) : replaced;
}

/** `fields` without the selected field (a section's fields stay, joining the group before it). */
export function removeAt(fields: FieldDef[], sel: Selection): FieldDef[] {
  if (!sel.parent) return removeField(fields, sel.key);
  return setSubFields(fields, sel.parent, removeField(siblings(fields, sel), sel.key));
}

/** `fields` with the selected field moved one place up (-1) or down (+1) in its own list. */
export function stepAt(fields: FieldDef[], sel: Selection, delta: number): FieldDef[] {
  const list = siblings(fields, sel);
  const index = list.findIndex((f) => f.key === sel.key);
  if (index < 0 || index + delta < 0 || index + delta >= list.length) return fields;
  const moved = moveField(list, index, index + delta);
  return sel.parent ? setSubFields(fields, sel.parent, moved) : moved;
}

/** Antd grid spans (of 24) of the definition's widths. */
export const WIDTH_SPANS = { full: 24, half: 12, third: 8, two_thirds: 16, quarter: 6 } as const;
export type Width = keyof typeof WIDTH_SPANS;
export const WIDTHS = Object.keys(WIDTH_SPANS) as Width[];

/** The span a field takes in a row of 24 (sections always take the whole row). */
export function widthSpan(field: FieldDef): number {
  if (field.type === "section") return 24;
  return WIDTH_SPANS[field.width as Width] ?? 24;
}

/** `fields` with `key`'s width set; `full` (the default) removes the property. */
export function setWidth(fields: FieldDef[], key: string, width: Width): FieldDef[] {
  return updateField(fields, key, { width: width === "full" ? undefined : width });
}

/** A section header (null for the fields before the first section) and the fields under it. */
export interface Group {
  section: FieldDef | null;
  fields: FieldDef[];
}

/** The form's fields grouped under their sections; the first group (no section) is always there. */
export function groupSections(fields: FieldDef[]): Group[] {
  const groups: Group[] = [{ section: null, fields: [] }];
  for (const field of fields) {
    if (field.type === "section") groups.push({ section: field, fields: [] });
    else groups[groups.length - 1].fields.push(field);
  }
  return groups;
}

function flatten(groups: Group[]): FieldDef[] {
  return groups.flatMap((g) => (g.section ? [g.section, ...g.fields] : g.fields));
}

/**
 * `fields` with the section `key` and its fields moved `delta` sections up (-1) or down (+1);
 * the fields before the first section stay first.
 */
export function moveSection(fields: FieldDef[], key: string, delta: number): FieldDef[] {
  const groups = groupSections(fields);
  const index = groups.findIndex((g) => g.section?.key === key);
  const target = index + delta;
  if (index < 1 || target < 1 || target >= groups.length || delta === 0) return fields;
  const next = [...groups];
  const [moved] = next.splice(index, 1);
  next.splice(target, 0, moved);
  return flatten(next);
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

/** The form-level settings the designer edits next to the fields. */
export interface FormSettings {
  name: Label;
  title_field?: string | null;
  /** Cross-field rules checked on every save (表单校验). */
  validations?: Validation[];
  /** Frequent filter & sort combinations (composite indexes, see combinations.ts). */
  indexes?: string[][];
}

/** A new, empty cross-field rule at the end of `rules`. */
export function addValidation(rules: Validation[]): Validation[] {
  return [...rules, { expr: "", message: { zh: "", en: "" } }];
}

/** `rules` with rule `index` changed by `patch` (the message is merged per language). */
export function changeValidation(rules: Validation[], index: number, patch: { expr?: string; zh?: string; en?: string }): Validation[] {
  return rules.map((rule, i) => {
    if (i !== index) return rule;
    const message = { ...rule.message };
    if (patch.zh !== undefined) message.zh = patch.zh;
    if (patch.en !== undefined) message.en = patch.en;
    return { expr: patch.expr ?? rule.expr, message };
  });
}

export function removeValidation(rules: Validation[], index: number): Validation[] {
  return rules.filter((_, i) => i !== index);
}

/** Which rule a server issue is about (`forms[2].validations[1].expr` → 1), or null. */
export function validationIndex(path: string): number | null {
  const match = /\.validations\[(\d+)\]/.exec(path);
  return match ? Number(match[1]) : null;
}

/**
 * The definition to plan and publish: the live one (with its `_revision`) with `formKey`'s
 * fields (and, when given, its name, title field, rules and combinations) replaced. A title field that no longer
 * exists is dropped.
 */
export function buildDefinition(app: AppDef, formKey: string, fields: FieldDef[], settings?: FormSettings): AppDef {
  const forms: FormDef[] = app.forms.map((form) => {
    if (form.key !== formKey) return form;
    const next: FormDef = { ...form, fields };
    if (settings) {
      next.name = settings.name;
      if (settings.title_field) next.title_field = settings.title_field;
      else delete next.title_field;
      if (settings.validations) next.validations = settings.validations;
      if (settings.indexes?.length) next.indexes = settings.indexes;
      else if (settings.indexes) delete next.indexes;
    }
    if (next.title_field && !fields.some((f) => f.key === next.title_field)) delete next.title_field;
    return next;
  });
  return { ...app, forms };
}

/** The draft differs from the published form (what leaving the designer would lose). */
export function isDirty(published: FormDef, fields: FieldDef[], settings: FormSettings): boolean {
  const draft = { fields, name: settings.name ?? null, title_field: settings.title_field || null, validations: settings.validations ?? published.validations ?? [], indexes: settings.indexes ?? published.indexes ?? [] };
  const live = { fields: published.fields, name: published.name ?? null, title_field: published.title_field || null, validations: published.validations ?? [], indexes: published.indexes ?? [] };
  return JSON.stringify(draft) !== JSON.stringify(live);
}

/** The form's fields that may be its title field (their type is `titleable`). */
export function titleCandidates(fields: FieldDef[], kinds: Map<string, PaletteType>): FieldDef[] {
  return fields.filter((f) => kinds.get(f.type)?.titleable);
}

const FIELD_PATH = /^forms\[(\d+)\]\.fields\[(\d+)\](?:\.fields\[(\d+)\])?/;

/**
 * The server's issues for `formKey`'s fields, by selection id (see selectionId): `key` for a
 * form field, `subform.key` for a sub-field (`forms[i].fields[j].fields[k]...`); index paths
 * are resolved against the fields that were sent.
 */
export function issuesByField(issues: Issue[], app: AppDef, formKey: string, fields: FieldDef[]): Record<string, Issue[]> {
  const formIndex = app.forms.findIndex((f) => f.key === formKey);
  const out: Record<string, Issue[]> = {};
  for (const issue of issues) {
    const match = FIELD_PATH.exec(issue.path ?? "");
    if (!match || Number(match[1]) !== formIndex) continue;
    const field = fields[Number(match[2])];
    if (!field) continue;
    const sub = match[3] === undefined ? undefined : field.fields?.[Number(match[3])];
    const id = sub ? selectionId({ parent: field.key, key: sub.key }) : field.key;
    (out[id] ??= []).push(issue);
  }
  return out;
}

/** The property an issue path points at inside its field or sub-field (`expr`, `options`, ...), if any. */
export function issueProperty(issue: Issue): string | undefined {
  return /^forms\[\d+\]\.fields\[\d+\](?:\.fields\[\d+\])?\.([a-z_]+)/.exec(issue.path ?? "")?.[1];
}

/** The server's issues about the form itself (its name, title field...), not one of its fields. */
export function formIssues(issues: Issue[], app: AppDef, formKey: string): Issue[] {
  const formIndex = app.forms.findIndex((f) => f.key === formKey);
  const prefix = `forms[${formIndex}]`;
  return issues.filter((i) => {
    const path = i.path ?? "";
    return (path === prefix || path.startsWith(`${prefix}.`)) && !path.startsWith(`${prefix}.fields[`);
  });
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
