/** Signature fields: draw on a pad (`signature_pad`), clear, save — the drawing is uploaded as a
 * PNG and becomes the field's value; a saved signature is shown as its image and can be signed again.
 *
 * The upload is handed to the form's `UploadTracker` (forms/uploads.ts), so a submit waits for it,
 * and a drawing not yet confirmed when the form is submitted is uploaded then (it is not dropped). */
import { App, Button, Space } from "antd";
import { useEffect, useRef, useState } from "react";
import { useTranslation } from "react-i18next";
import SignaturePad from "signature_pad";
import type { FieldDef } from "../api/types";
import { fileRefs, fileUrl, uploadFile, type FileRef } from "../forms/files";
import { uploadId, useUploadSlot } from "../forms/uploads";
import { useRecordScope, useUploadTarget } from "./fileScope";

interface Props {
  field: FieldDef;
  value: unknown;
  onChange(value: FileRef[] | null): void;
  disabled?: boolean;
  id?: string;
}

const HEIGHT = 180;

export default function SignatureInput({ field, value, onChange, disabled, id }: Props) {
  const { t } = useTranslation();
  const { message } = App.useApp();
  const scope = useRecordScope();
  const target = useUploadTarget();
  const [ref] = fileRefs(value);
  const [drawing, setDrawing] = useState(!ref);
  const [empty, setEmpty] = useState(true);
  const [busy, setBusy] = useState(false);
  const [local, setLocal] = useState<string | null>(null);
  const canvas = useRef<HTMLCanvasElement>(null);
  const pad = useRef<SignaturePad | null>(null);
  const slot = useUploadSlot();
  const change = useRef(onChange);
  change.current = onChange;
  const saving = useRef(false);
  const failure = useRef<string | null>(null);

  useEffect(() => {
    const element = canvas.current;
    if (!drawing || disabled || !element) return;
    // The canvas is drawn at the screen's pixel density so strokes stay sharp on phones.
    const ratio = Math.max(window.devicePixelRatio || 1, 1);
    element.width = element.offsetWidth * ratio;
    element.height = HEIGHT * ratio;
    element.getContext("2d")?.scale(ratio, ratio);
    const created = new SignaturePad(element, { backgroundColor: "rgb(255,255,255)", penColor: "rgb(20,20,20)" });
    created.addEventListener("endStroke", () => setEmpty(created.isEmpty()));
    pad.current = created;
    setEmpty(true);
    return () => {
      created.off();
      pad.current = null;
    };
  }, [drawing, disabled]);

  useEffect(() => () => {
    if (local) URL.revokeObjectURL(local);
  }, [local]);

  async function upload(): Promise<void> {
    const blob = await new Promise<Blob>((resolve, reject) =>
      canvas.current!.toBlob((b) => (b ? resolve(b) : reject(new Error("toBlob"))), "image/png"),
    );
    const uploaded = await uploadFile(blob, `${field.key}-signature.png`, target, field.key, field.type);
    setLocal(URL.createObjectURL(blob));
    change.current([uploaded]);
    setDrawing(false);
  }

  async function save() {
    const current = pad.current;
    if (saving.current || !current || current.isEmpty() || !canvas.current) return;
    saving.current = true;
    setBusy(true);
    if (failure.current) slot?.tracker.dismiss(failure.current);
    const id = uploadId("signature");
    failure.current = id;
    const work = upload();
    slot?.tracker.track(id, slot.field, t("inputs.signature"), work);
    try {
      await work;
    } catch (error) {
      message.error((error as Error).message);
    } finally {
      saving.current = false;
      setBusy(false);
    }
  }

  // Submitting the form confirms a drawing left unconfirmed on the pad.
  const flush = useRef(save);
  flush.current = save;
  useEffect(() => slot?.tracker.onFlush(() => void flush.current()), [slot]);
  // A failure of a pad that is gone no longer blocks the form.
  const slotRef = useRef(slot);
  slotRef.current = slot;
  useEffect(() => () => {
    if (failure.current) slotRef.current?.tracker.dismiss(failure.current);
  }, []);

  if (!drawing && ref) {
    const src = local ?? (target.kind === "user" ? fileUrl(ref.file_id, scope) : undefined);
    return (
      <Space direction="vertical" data-testid={`signature-${field.key}`}>
        {src && <img src={src} alt={t("inputs.signature")} style={{ maxWidth: "100%", height: 90, border: "1px solid #f0f0f0" }} data-testid={`signature-${field.key}-image`} />}
        {!disabled && (
          <Space>
            <Button size="small" onClick={() => setDrawing(true)} data-testid={`signature-${field.key}-redo`}>
              {t("inputs.signAgain")}
            </Button>
            <Button
              size="small"
              onClick={() => {
                if (failure.current) slot?.tracker.dismiss(failure.current);
                onChange(null);
              }}
              data-testid={`signature-${field.key}-remove`}
            >
              {t("inputs.remove")}
            </Button>
          </Space>
        )}
      </Space>
    );
  }
  if (disabled) return null;
  return (
    <div data-testid={`signature-${field.key}`} id={id}>
      <canvas
        ref={canvas}
        style={{ width: "100%", maxWidth: 520, height: HEIGHT, border: "1px dashed #bbb", borderRadius: 6, touchAction: "none", display: "block" }}
        data-testid={`signature-${field.key}-pad`}
        aria-label={t("inputs.signHere")}
      />
      <Space style={{ marginTop: 8 }} wrap>
        <Button
          size="small"
          onClick={() => {
            pad.current?.clear();
            setEmpty(true);
            if (failure.current) slot?.tracker.dismiss(failure.current);
          }}
          data-testid={`signature-${field.key}-clear`}
        >
          {t("inputs.clear")}
        </Button>
        <Button size="small" type="primary" disabled={empty} loading={busy} onClick={save} data-testid={`signature-${field.key}-save`}>
          {t("inputs.saveSignature")}
        </Button>
        {ref && (
          <Button size="small" onClick={() => setDrawing(false)}>
            {t("fill.cancel")}
          </Button>
        )}
        <span style={{ color: "#999" }}>{t("inputs.signHere")}</span>
      </Space>
    </div>
  );
}
