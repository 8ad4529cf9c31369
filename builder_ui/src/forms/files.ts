/** File values of attachment, image and signature fields: where a file is downloaded from, and
 * the upload request (signed in: `POST /files`; on a public link: `POST /public/{token}/files`). */
import { API, ApiError, apiPath } from "../api/client";
import i18n from "../i18n";

/** A file as a record holds it (`name`, `size`, `mime` come with reads and uploads). */
export interface FileRef {
  file_id: number;
  name?: string | null;
  size?: number | null;
  mime?: string | null;
}

/** The record a value belongs to: its files are downloaded through it (so whoever may see the
 * record and the field gets them, not only the uploader). */
export interface RecordScope {
  app: string;
  form: string;
  id: number;
}

/** Where uploads go: the signed-in user's `POST /files`, or a public fill link's. */
export type UploadTarget = { kind: "user" } | { kind: "public"; token: string; password?: string | null };

const IMAGE_MIMES = new Set(["image/png", "image/jpeg", "image/gif", "image/webp", "image/bmp"]);

export function isImage(ref: Pick<FileRef, "mime">): boolean {
  return !!ref.mime && IMAGE_MIMES.has(ref.mime);
}

export function fileRefs(value: unknown): FileRef[] {
  if (!Array.isArray(value)) return [];
  return value
    .map((v) => (typeof v === "number" ? { file_id: v } : v))
    .filter((v): v is FileRef => typeof v === "object" && v !== null && typeof (v as FileRef).file_id === "number");
}

/** The download URL of a file: through its record when known, else the uploader's own `/files/{id}`. */
export function fileUrl(fileId: number, scope?: RecordScope | null): string {
  if (scope) {
    const form = `/apps/${encodeURIComponent(scope.app)}/forms/${encodeURIComponent(scope.form)}`;
    return `${API}${form}/records/${scope.id}/files/${fileId}`;
  }
  return `${API}/files/${fileId}`;
}

/** A size as people read it: 980 B, 12.3 KB, 4.5 MB. */
export function sizeText(size: number | null | undefined): string {
  if (size === null || size === undefined) return "";
  if (size < 1024) return `${size} B`;
  if (size < 1024 * 1024) return `${(size / 1024).toFixed(1)} KB`;
  return `${(size / 1024 / 1024).toFixed(1)} MB`;
}

/** The upload request's path and query for a field of `fieldType` (the server refuses at once
 * what the field would not accept). */
export function uploadPath(target: UploadTarget, fieldKey: string, fieldType: string): string {
  if (target.kind === "public") return `${apiPath(`/public/${encodeURIComponent(target.token)}/files`)}?field=${encodeURIComponent(fieldKey)}`;
  return `${apiPath("/files")}?field_type=${encodeURIComponent(fieldType)}`;
}

/** Upload one file; `signal` aborts it (the file was removed from the list while it went up). */
export async function uploadFile(
  file: Blob,
  name: string,
  target: UploadTarget,
  fieldKey: string,
  fieldType: string,
  signal?: AbortSignal,
): Promise<FileRef> {
  const body = new FormData();
  body.append("file", file, name);
  const headers: Record<string, string> = { "Accept-Language": i18n.language === "en" ? "en" : "zh-CN" };
  const csrf = localStorage.getItem("jimu.csrf");
  if (csrf && target.kind === "user") headers["X-CSRF-Token"] = csrf;
  // Header values are Latin-1: a UTF-8 password travels as its bytes (the server reads them back).
  if (target.kind === "public" && target.password)
    headers["X-Link-Password"] = String.fromCharCode(...new TextEncoder().encode(target.password));
  const response = await fetch(API + uploadPath(target, fieldKey, fieldType), { method: "POST", body, headers, credentials: "same-origin", signal });
  const text = await response.text();
  const data = text ? JSON.parse(text) : null;
  if (!response.ok) {
    const error = data?.error ?? {};
    const detail = (error.issues ?? []).map((i: { message: string }) => i.message).join("；");
    throw new ApiError(response.status, error.code ?? "error", detail || error.message || response.statusText, error.issues ?? []);
  }
  return { file_id: data.file_id, name: data.name, size: data.size, mime: data.mime };
}
