/** A record value rendered for reading: coloured tags for options, files as download links,
 * images as thumbnails with a preview, signatures as images, text for the rest. */
import { PaperClipOutlined } from "@ant-design/icons";
import { Image, Space, Table, Tag } from "antd";
import { useTranslation } from "react-i18next";
import type { FieldDef } from "../api/types";
import { displayText } from "../forms/display";
import { fileRefs, fileUrl, isImage, sizeText, type RecordScope } from "../forms/files";
import { hasTrait } from "../forms/fieldTypes";
import { fieldLabel, optionLabel } from "../forms/labels";
import { useRecordScope } from "./fileScope";

/** Files of a record: images as thumbnails (one preview group), other files as named links. In a
 * grid cell (`compact`) without a known record only the names are shown. */
function FileList({ field, value, scope, compact }: { field: FieldDef; value: unknown; scope: RecordScope | null; compact: boolean }) {
  const refs = fileRefs(value);
  const images = refs.filter(isImage);
  const others = refs.filter((ref) => !isImage(ref));
  const size = compact ? 28 : field.type === "signature" ? 90 : 72;
  const shown = !compact || scope !== null;
  return (
    <Space size={[8, 4]} wrap data-testid={`files-${field.key}`}>
      {shown && images.length > 0 && (
        <Image.PreviewGroup>
          {images.map((ref) => (
            <Image
              key={ref.file_id}
              src={fileUrl(ref.file_id, scope)}
              alt={ref.name ?? ""}
              height={size}
              width={field.type === "signature" ? undefined : size}
              style={{ objectFit: field.type === "signature" ? "contain" : "cover", border: "1px solid #f0f0f0", borderRadius: 4 }}
              data-testid={`file-image-${ref.file_id}`}
            />
          ))}
        </Image.PreviewGroup>
      )}
      {(shown ? others : refs).map((ref) =>
        shown ? (
          <a key={ref.file_id} href={fileUrl(ref.file_id, scope)} download={ref.name ?? undefined} data-testid={`file-link-${ref.file_id}`}>
            <PaperClipOutlined /> {ref.name ?? `#${ref.file_id}`}
            {!compact && ref.size ? <span style={{ color: "#999" }}> ({sizeText(ref.size)})</span> : null}
          </a>
        ) : (
          <span key={ref.file_id}>
            <PaperClipOutlined /> {ref.name ?? `#${ref.file_id}`}
          </span>
        ),
      )}
    </Space>
  );
}

/** `compact` (grid cells): subforms as a row count instead of a table. */
export default function FieldValue({ field, value, compact = false }: { field: FieldDef; value: unknown; compact?: boolean }) {
  const { t, i18n } = useTranslation();
  const scope = useRecordScope(!compact);
  if (value === null || value === undefined) return null;
  if (hasTrait(field.type, "is_file")) return <FileList field={field} value={value} scope={scope} compact={compact} />;
  if (field.type === "select" || field.type === "multiselect") {
    const values = Array.isArray(value) ? value : [value];
    return (
      <>
        {values.map((v) => (
          <Tag key={String(v)} color={field.options?.find((o) => o.value === v)?.color}>
            {optionLabel(field.options, v, i18n.language)}
          </Tag>
        ))}
      </>
    );
  }
  if (field.type === "subform" && Array.isArray(value) && compact) return <>{t("fill.rows", { count: value.length })}</>;
  if (field.type === "subform" && Array.isArray(value)) {
    const columns = (field.fields ?? []).map((sub) => ({
      key: sub.key,
      dataIndex: sub.key,
      title: fieldLabel(sub, i18n.language),
      render: (v: unknown) => <FieldValue field={sub} value={v} />,
    }));
    return (
      <Table
        size="small"
        rowKey={(row: Record<string, unknown>) => String(row._id)}
        columns={columns}
        dataSource={value as Record<string, unknown>[]}
        pagination={false}
        scroll={{ x: "max-content" }}
      />
    );
  }
  return <>{displayText(field, value, i18n.language, t("fill.yes"), t("fill.no"))}</>;
}
