/** Attachment and image fields: upload (antd Upload, several files), image thumbnails with a
 * preview, remove. The value is the field's list of file references; each upload goes to the
 * server at once (`uploadFile`), and the reference joins the value when it is stored.
 *
 * Every upload is handed to the form's `UploadTracker` (forms/uploads.ts), so a submit waits for
 * it; one that fails stays in the list, marked red, and blocks the submit until it is removed. */
import { PlusOutlined, UploadOutlined } from "@ant-design/icons";
import { App, Button, Image, Upload } from "antd";
import type { UploadFile } from "antd";
import { useEffect, useRef, useState } from "react";
import { useTranslation } from "react-i18next";
import type { FieldDef } from "../api/types";
import { fileRefs, fileUrl, isImage, uploadFile, type FileRef } from "../forms/files";
import { useUploadSlot } from "../forms/uploads";
import { useRecordScope, useUploadTarget } from "./fileScope";

interface Props {
  field: FieldDef;
  value: unknown;
  onChange(value: FileRef[] | null): void;
  disabled?: boolean;
  id?: string;
}

export default function FileUpload({ field, value, onChange, disabled, id }: Props) {
  const { t } = useTranslation();
  const { message } = App.useApp();
  const scope = useRecordScope();
  const target = useUploadTarget();
  const slot = useUploadSlot();
  const images = field.type === "image";
  const refs = fileRefs(value);
  // The value as the uploads finishing know it: two uploads that end before the page has
  // re-rendered must both be kept, so it moves on at once and follows the prop only when the
  // prop itself changes (a render that still carries the old value must not roll it back).
  const latest = useRef(refs);
  const seen = useRef(value);
  if (seen.current !== value) {
    seen.current = value;
    latest.current = refs;
  }
  const change = useRef(onChange);
  change.current = onChange;
  const [pending, setPending] = useState<UploadFile[]>([]);
  const running = useRef(new Map<string, AbortController>());
  const tracked = useRef(new Set<string>());
  // Files uploaded here are shown from the browser's copy: a public page cannot download them.
  const [local, setLocal] = useState<Record<number, string>>({});
  const made = useRef<string[]>([]);
  useEffect(() => () => made.current.forEach((url) => URL.revokeObjectURL(url)), []);
  // Failures of an input that is gone (a rule hid the field, its row was removed) no longer block.
  const slotRef = useRef(slot);
  slotRef.current = slot;
  useEffect(() => () => tracked.current.forEach((uid) => slotRef.current?.tracker.dismiss(uid)), []);
  const [preview, setPreview] = useState<string | null>(null);

  const urlOf = (ref: FileRef) => local[ref.file_id] ?? (target.kind === "user" ? fileUrl(ref.file_id, scope) : undefined);
  const fileList: UploadFile[] = [
    ...refs.map(
      (ref): UploadFile => ({
        uid: `file-${ref.file_id}`,
        name: ref.name ?? `#${ref.file_id}`,
        status: "done",
        url: urlOf(ref),
        thumbUrl: isImage(ref) || images ? urlOf(ref) : undefined,
        type: ref.mime ?? undefined,
        size: ref.size ?? undefined,
      }),
    ),
    ...pending,
  ];

  return (
    <div data-testid={`upload-${field.key}`}>
      <Upload
        id={id}
        multiple
        disabled={disabled}
        listType={images ? "picture-card" : "text"}
        accept={images ? "image/png,image/jpeg,image/gif,image/webp,image/bmp" : undefined}
        fileList={fileList}
        // Uploads running and uploads that failed (until removed) stay in the list after the stored files.
        onChange={({ fileList: next }) =>
          setPending(next.filter((f) => !f.uid.startsWith("file-") && (f.status === "uploading" || f.status === "error")))
        }
        customRequest={({ file, onSuccess, onError }) => {
          const blob = file as File & { uid: string };
          const uid = blob.uid;
          const abort = new AbortController();
          running.current.set(uid, abort);
          const work = uploadFile(blob, blob.name, target, field.key, field.type, abort.signal).then((ref) => {
            const url = URL.createObjectURL(blob);
            made.current.push(url);
            setLocal((urls) => ({ ...urls, [ref.file_id]: url }));
            const next = [...latest.current, ref];
            latest.current = next;
            change.current(next);
            return ref;
          });
          // A file removed while it went up is neither a value nor a failure.
          const outcome = work.catch((error: Error) => {
            if (abort.signal.aborted) return null;
            throw error;
          });
          if (slot) {
            tracked.current.add(uid);
            slot.tracker.track(uid, slot.field, blob.name, outcome);
          }
          outcome
            .then((ref) => ref && onSuccess?.(ref))
            .catch((error: Error) => {
              message.error(`${blob.name}: ${error.message}`);
              onError?.(error);
            })
            .finally(() => running.current.delete(uid));
        }}
        onRemove={(removed) => {
          if (!removed.uid.startsWith("file-")) {
            running.current.get(removed.uid)?.abort();
            slot?.tracker.dismiss(removed.uid);
            setPending((files) => files.filter((f) => f.uid !== removed.uid));
            return true;
          }
          const left = latest.current.filter((ref) => `file-${ref.file_id}` !== removed.uid);
          latest.current = left;
          change.current(left.length ? left : null);
          return true;
        }}
        onPreview={(file) => {
          if (images && file.url) setPreview(file.url);
          else if (file.url) window.open(file.url, "_blank", "noopener");
        }}
        showUploadList={{ showDownloadIcon: !images && target.kind === "user", showRemoveIcon: !disabled }}
      >
        {disabled ? null : images ? (
          <button type="button" style={{ border: 0, background: "none" }} data-testid={`upload-${field.key}-add`}>
            <PlusOutlined />
            <div style={{ marginTop: 8 }}>{t("inputs.addImage")}</div>
          </button>
        ) : (
          <Button icon={<UploadOutlined />} data-testid={`upload-${field.key}-add`}>
            {t("inputs.upload")}
          </Button>
        )}
      </Upload>
      {preview && (
        <Image
          style={{ display: "none" }}
          src={preview}
          preview={{ open: true, src: preview, onOpenChange: (open) => !open && setPreview(null) }}
        />
      )}
    </div>
  );
}
