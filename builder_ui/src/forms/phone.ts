/**
 * The phone path of issue 16 (≤ 3 taps for a daily entry): the defaults a quick-add fill page
 * starts with, the place of a position from the server's reverse geocoder, and why a picker is
 * empty — each from what the server says, never guessed.
 */
import { api, apiPath, request } from "../api/client";
import type { FieldDef, Permissions, RecordJson } from "../api/types";

/** `GET /geo/regeo`: the readable place at a position, or why there is none. */
export interface PlaceAnswer {
  address: string | null;
  configured: boolean;
  reason: "not_configured" | "provider_failed" | "no_place" | null;
  message: string | null;
}

export const placeOf = (lat: number, lng: number) =>
  request<PlaceAnswer>("GET", apiPath("/geo/regeo"), undefined, { lat, lng });

/** The caller's latest record of a form (the most recently created one they created), or null. */
export async function latestOwnRecord(app: string, form: string): Promise<RecordJson | null> {
  const page = await api.records(app, form, { filter: "_created_by = CURRENT_USER()", sort: "-_id", limit: 1 });
  return page.items[0] ?? null;
}

type Ref = { _id: number; title?: string | null; restricted?: boolean };

/**
 * The values a quick-add page fills in from the caller's latest record of the same form: each
 * single relation (the customer of a 跟进记录) the user may edit that is still empty takes the
 * record it pointed to, so "the customer I last worked with" is one tap away from being kept.
 * A link the caller can no longer read (`restricted`) is not carried over.
 */
export function lastWorkedWith(
  fields: FieldDef[],
  latest: RecordJson | null,
  values: Record<string, unknown>,
  editable: (field: FieldDef) => boolean,
): Record<string, Ref> {
  const filled: Record<string, Ref> = {};
  if (!latest) return filled;
  for (const field of fields) {
    if (field.type !== "relation" || field.many || !editable(field)) continue;
    const current = values[field.key];
    if (current !== undefined && current !== null) continue;
    const ref = latest[field.key] as Ref | null | undefined;
    if (ref && typeof ref === "object" && typeof ref._id === "number" && !ref.restricted) filled[field.key] = { _id: ref._id, title: ref.title ?? null };
  }
  return filled;
}

/**
 * Why the caller sees only part of a form's records, from their permissions (`GET
 * …/permissions/me`): "own" when every role lets them view only their own records, "scoped"
 * when some narrower scope applies, null when they see every record (or hold no view right).
 */
export function viewScope(permissions: Permissions | undefined): "own" | "scoped" | null {
  if (!permissions || permissions.admin) return null;
  const scopes = permissions.scopes.view;
  if (!Array.isArray(scopes) || scopes.length === 0) return null;
  if (scopes.includes("all")) return null;
  return scopes.every((scope) => scope === "own") ? "own" : "scoped";
}
