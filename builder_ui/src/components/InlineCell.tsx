/** A grid cell being edited in place: the field's input, saved with Enter or ✓, cancelled with
 * Escape or ✗; the change is a PATCH with the record's `_version` (a stale one is refused). A file
 * cell saves once its uploads are done (forms/uploads.ts), never without the file. */
import { CheckOutlined, CloseOutlined } from "@ant-design/icons";
import { Button, Space } from "antd";
import { useMemo, useRef, useState, type KeyboardEvent } from "react";
import { useTranslation } from "react-i18next";
import { api, ApiError } from "../api/client";
import type { AppDef, FieldDef, RecordJson } from "../api/types";
import { inputValue } from "../forms/submit";
import { UploadContext, useUploadGate } from "../forms/uploads";
import FieldInput from "./FieldInput";

interface Props {
  app: AppDef;
  form: string;
  field: FieldDef;
  record: RecordJson;
  onDone(saved: boolean): void;
  onError(message: string): void;
}

export default function InlineCell({ app, form, field, record, onDone, onError }: Props) {
  const { t } = useTranslation();
  const [draft, setDraft] = useState<unknown>(record[field.key]);
  const latest = useRef(draft);
  const [busy, setBusy] = useState(false);
  const gate = useUploadGate();
  const slot = useMemo(() => ({ tracker: gate.tracker, field: field.key }), [gate.tracker, field.key]);
  const edit = (value: unknown) => {
    latest.current = value;
    setDraft(value);
  };

  async function save() {
    if (busy || gate.waiting) return;
    const uploads = await gate.ready();
    if (!uploads.ok) {
      if ("failures" in uploads) onError(t("fill.uploadFailed"));
      return;
    }
    setBusy(true);
    try {
      await api.update(app.key, form, record._id, { [field.key]: inputValue(field, latest.current), _version: record._version });
      onDone(true);
    } catch (e) {
      onError(e instanceof ApiError ? (e.issues[0]?.message ?? e.message) : t("errors.generic"));
      setBusy(false);
    }
  }

  function keys(e: KeyboardEvent) {
    if (e.key === "Escape") onDone(false);
    else if (e.key === "Enter" && (e.target as HTMLElement).tagName === "INPUT" && !(e.target as HTMLElement).closest(".ant-select")) {
      e.preventDefault();
      void save();
    }
  }

  return (
    <div onClick={(e) => e.stopPropagation()} onKeyDown={keys} style={{ minWidth: 180 }} data-testid={`inline-${field.key}`}>
      <Space.Compact style={{ width: "100%" }}>
        <div style={{ flex: 1, minWidth: 0 }}>
          <UploadContext.Provider value={slot}>
            <FieldInput app={app} field={field} value={draft} onChange={edit} autoFocus idPrefix={`inline-${record._id}-`} />
          </UploadContext.Provider>
        </div>
        <Button
          icon={<CheckOutlined />}
          type="primary"
          loading={busy || gate.waiting}
          onClick={save}
          aria-label={gate.waiting ? t("fill.uploading") : t("fill.save")}
          data-testid="inline-save"
        />
        <Button icon={<CloseOutlined />} onClick={() => onDone(false)} aria-label={t("fill.cancel")} />
      </Space.Compact>
    </div>
  );
}
