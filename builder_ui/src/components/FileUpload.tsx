/** Attachment and image fields: upload (antd Upload, several files), image thumbnails with a
 * preview, remove. The value is the field's list of file references; each upload goes to the
 * server at once (`uploadFile`), and the reference joins the value when it is stored. */
import { PlusOutlined, UploadOutlined } from "@ant-design/icons";
import { App, Button, Image, Upload } from "antd";
import type { UploadFile } from "antd";
import { useEffect, useRef, useState } from "react";
import { useTranslation } from "react-i18next";
import type { FieldDef } from "../api/types";
import { fileRefs, fileUrl, isImage, uploadFile, type FileRef } from "../forms/files";
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
  const images = field.type === "image";
  const refs = fileRefs(value);
  const latest = useRef(refs);
  latest.current = refs;
  const [pending, setPending] = useState<UploadFile[]>([]);
  // Files uploaded here are shown from the browser's copy: a public page cannot download them.
  const [local, setLocal] = useState<Record<number, string>>({});
  const made = useRef<string[]>([]);
  useEffect(() => () => made.current.forEach((url) => URL.revokeObjectURL(url)), []);
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
        onChange={({ fileList: next }) => setPending(next.filter((f) => !f.uid.startsWith("file-") && f.status === "uploading"))}
        customRequest={({ file, onSuccess, onError }) => {
          const blob = file as File;
          uploadFile(blob, blob.name, target, field.key, field.type)
            .then((ref) => {
              const url = URL.createObjectURL(blob);
              made.current.push(url);
              setLocal((urls) => ({ ...urls, [ref.file_id]: url }));
              onChange([...latest.current, ref]);
              onSuccess?.(ref);
            })
            .catch((error: Error) => {
              message.error(`${blob.name}: ${error.message}`);
              onError?.(error);
            });
        }}
        onRemove={(removed) => {
          if (!removed.uid.startsWith("file-")) return true;
          const left = latest.current.filter((ref) => `file-${ref.file_id}` !== removed.uid);
          onChange(left.length ? left : null);
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
