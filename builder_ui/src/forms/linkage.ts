/**
 * Data linkage (数据联动) on the fill page: when the user changes a field a linkage default reads
 * (its `equals` fields), the page asks the server (`POST …/forms/{form}/linkage`) what a create
 * would copy — read with the user's own permissions on the source form — and fills the linked
 * fields. A linked field the user has typed into since is left alone: a field is filled only while
 * it is empty or still holds the value the linkage put there last. When a condition is cleared,
 * the linked fields the user has not touched are cleared too.
 */
import { useEffect, useMemo, useRef, type Dispatch, type SetStateAction } from "react";
import { apiPath, request } from "../api/client";
import type { FieldDef, FormDef } from "../api/types";

type Values = Record<string, unknown>;

export interface LinkageCondition {
  field: string;
  equals: string;
}

export interface LinkageDef {
  form: string;
  when: LinkageCondition[];
  take: string;
}

export interface LinkedField {
  key: string;
  linkage: LinkageDef;
}

/** The field's linkage default, or null. */
export function linkageOf(field: FieldDef): LinkageDef | null {
  const value = field.default as { linkage?: LinkageDef } | null | undefined;
  if (!value || typeof value !== "object" || Array.isArray(value) || !value.linkage) return null;
  const linkage = value.linkage;
  return Array.isArray(linkage.when) && typeof linkage.take === "string" ? linkage : null;
}

/** The form's fields with a linkage default, in definition order. */
export function linkedFields(fields: FieldDef[]): LinkedField[] {
  const found: LinkedField[] = [];
  for (const field of fields) {
    const linkage = linkageOf(field);
    if (linkage) found.push({ key: field.key, linkage });
  }
  return found;
}

/** This form's fields some linkage reads. */
export function watchedKeys(linked: LinkedField[]): string[] {
  return [...new Set(linked.flatMap((l) => l.linkage.when.map((c) => c.equals)))];
}

export function isEmpty(value: unknown): boolean {
  return value === undefined || value === null || value === "" || (Array.isArray(value) && value.length === 0);
}

/** The values a linkage's conditions read, as one comparable text; null when one is empty. */
export function signature(linkage: LinkageDef, values: Values): string | null {
  const parts: unknown[] = [];
  for (const condition of linkage.when) {
    const value = values[condition.equals];
    if (isEmpty(value)) return null;
    // A relation or person is the same choice whatever title or name it carries.
    const id = typeof value === "object" && value !== null ? ((value as { _id?: unknown })._id ?? (value as { id?: unknown }).id) : undefined;
    parts.push(id ?? value);
  }
  return JSON.stringify(parts);
}

/** Linked fields whose conditions changed since `asked` (key → last signature; updated in place). */
export function dueFields(linked: LinkedField[], values: Values, asked: Record<string, string | null>): { ask: string[]; clear: string[] } {
  const ask: string[] = [];
  const clear: string[] = [];
  for (const { key, linkage } of linked) {
    const now = signature(linkage, values);
    if (key in asked && asked[key] === now) continue;
    const before = key in asked ? asked[key] : null;
    asked[key] = now;
    if (now !== null) ask.push(key);
    else if (before !== null) clear.push(key);
  }
  return { ask, clear };
}

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
}

/** May the linkage (re)fill this field? Only while it is empty or holds what the linkage put there. */
export function mayFill(current: unknown, lastFilled: unknown): boolean {
  return isEmpty(current) || same(current, lastFilled);
}

/**
 * `values` with the server's answer applied to the fields the user has not typed into;
 * `filled` (key → the value the linkage put there last) is updated in place.
 */
export function applyAnswer(values: Values, answer: Values, filled: Values): Values {
  let next = values;
  for (const [key, value] of Object.entries(answer)) {
    if (!mayFill(values[key], filled[key])) continue;
    if (!same(values[key], value)) next = { ...next, [key]: value };
    filled[key] = value;
  }
  return next;
}

/** What the server would copy into `keys`, given the current values of the watched fields. */
export async function askServer(app: string, form: string, values: Values, watched: string[]): Promise<Values> {
  const sent: Values = {};
  for (const key of watched) if (!isEmpty(values[key])) sent[key] = values[key];
  const answer = await request<{ values: Values }>(
    "POST",
    apiPath(`/apps/${encodeURIComponent(app)}/forms/${encodeURIComponent(form)}/linkage`),
    { values: sent },
  );
  return answer.values ?? {};
}

/** The fill page's hook: fills linked fields as their conditions change (new records only). */
export function useLinkage(
  app: string,
  form: FormDef | undefined,
  values: Values | null,
  setValues: Dispatch<SetStateAction<Values | null>>,
  enabled: boolean,
): void {
  const linked = useMemo(() => (form ? linkedFields(form.fields) : []), [form]);
  const asked = useRef<Record<string, string | null>>({});
  const filled = useRef<Values>({});
  useEffect(() => {
    if (!enabled || !form || values === null || linked.length === 0) return;
    const { ask, clear } = dueFields(linked, values, asked.current);
    if (clear.length) {
      const blanks = Object.fromEntries(clear.map((key) => [key, null]));
      setValues((current) => (current === null ? current : applyAnswer(current, blanks, filled.current)));
    }
    if (!ask.length) return;
    const sent = Object.fromEntries(ask.map((key) => [key, asked.current[key]]));
    askServer(app, form.key, values, watchedKeys(linked))
      .then((answer) => {
        // Only answers to the latest question about a field count (the user may have moved on).
        const current = Object.fromEntries(ask.filter((key) => asked.current[key] === sent[key] && key in answer).map((key) => [key, answer[key]]));
        setValues((state) => (state === null ? state : applyAnswer(state, current, filled.current)));
      })
      .catch(() => undefined); // a condition value the server refuses fills nothing; saving reports it
  }, [app, form, linked, values, enabled, setValues]);
}
