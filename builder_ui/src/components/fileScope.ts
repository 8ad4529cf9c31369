/** Where file inputs upload to and which record file values are downloaded through.
 *
 * A public page wraps its form in `<UploadTargetContext.Provider value={{ kind: "public", token }}>`
 * so uploads go to the link. A view of one record may wrap it in `<RecordScopeContext.Provider>`;
 * without it the route tells the record (`/apps/:app/:form/:id/edit`, or the records page's
 * `?open=` drawer), and a value outside any record falls back to the uploader's own download. */
import { createContext, useContext } from "react";
import { useParams, useSearchParams } from "react-router";
import type { RecordScope, UploadTarget } from "../forms/files";

export const RecordScopeContext = createContext<RecordScope | null>(null);
export const UploadTargetContext = createContext<UploadTarget>({ kind: "user" });

/** The record the current view shows, if any (see the module comment). `fromRoute`: false for
 * grid cells, which show many records while the route names at most one. */
export function useRecordScope(fromRoute = true): RecordScope | null {
  const explicit = useContext(RecordScopeContext);
  const params = useParams();
  const [search] = useSearchParams();
  if (explicit) return explicit;
  if (!fromRoute || !params.app || !params.form) return null;
  const id = Number(params.id ?? search.get("open"));
  return Number.isInteger(id) && id > 0 ? { app: params.app, form: params.form, id } : null;
}

export function useUploadTarget(): UploadTarget {
  return useContext(UploadTargetContext);
}
