/**
 * A select's options as an editable table: value, 中文, English and colour per row, with add,
 * remove and move up/down; below it a paste box of `value|中文|English` lines for many at once.
 */
import { ArrowDownOutlined, ArrowUpOutlined, DeleteOutlined, PlusOutlined } from "@ant-design/icons";
import { Button, Input, Select, Space, Tag } from "antd";
import { useEffect, useState } from "react";
import { useTranslation } from "react-i18next";
import type { SelectOption } from "../../api/types";
import { labelText } from "../../forms/labels";
import { relabelOption } from "../keys";
import { addOption, moveOption, OPTION_COLORS, optionsText, parseOptions, removeOption, setOption } from "../properties";

export default function OptionsTable({ options = [], fixed, onChange }: { options?: SelectOption[]; fixed?: Set<string>; onChange(options: SelectOption[]): void }) {
  const { t, i18n } = useTranslation();
  const label = (o: SelectOption, lang: "zh" | "en") => (typeof o.label === "string" ? (lang === "zh" ? o.label : "") : (o.label?.[lang] ?? ""));
  return (
    <div data-testid="prop-options-table">
      {options.map((o, i) => (
        // Two lines an option, so labels get half the panel each rather than a third squeezed
        // beside the value: 中文 and English first, then the value, colour and the buttons.
        <div key={i} style={{ marginBottom: 6, paddingBottom: 4, borderBottom: "1px dashed #f0f0f0" }} data-testid={`option-row-${i}`}>
          <div style={{ display: "flex", gap: 4, marginBottom: 2 }}>
            <Input.TextArea size="small" autoSize={{ minRows: 1, maxRows: 3 }} style={{ flex: 1, minWidth: 0 }} placeholder="中文" aria-label="中文" title={label(o, "zh")} value={label(o, "zh")}
              onChange={(e) => onChange(relabelOption(options, i, "zh", e.target.value.replace(/\n/g, ""), fixed ?? new Set()))} data-testid={`option-zh-${i}`} />
            <Input.TextArea size="small" autoSize={{ minRows: 1, maxRows: 3 }} style={{ flex: 1, minWidth: 0 }} placeholder="English" aria-label="English" title={label(o, "en")} value={label(o, "en")}
              onChange={(e) => onChange(relabelOption(options, i, "en", e.target.value.replace(/\n/g, ""), fixed ?? new Set()))} data-testid={`option-en-${i}`} />
          </div>
          <div style={{ display: "flex", gap: 4, alignItems: "center" }}>
          <Input size="small" style={{ flex: 1, minWidth: 0 }} placeholder={t("props.optionValue")} aria-label={t("props.optionValue")} value={o.value}
            onChange={(e) => onChange(setOption(options, i, { value: e.target.value }))} data-testid={`option-value-${i}`} />
          <Select
            size="small"
            style={{ width: 64 }}
            aria-label={t("props.optionColor")}
            value={o.color ?? ""}
            onChange={(color: string) => onChange(setOption(options, i, { color: color || null }))}
            options={[
              { value: "", label: <span data-testid="color-none">–</span> },
              ...OPTION_COLORS.map((c) => ({ value: c, label: <Swatch color={c} /> })),
              ...(o.color && !OPTION_COLORS.includes(o.color) ? [{ value: o.color, label: <Swatch color={o.color} /> }] : []),
            ]}
            popupMatchSelectWidth={false}
            data-testid={`option-color-${i}`}
          />
          <Button size="small" type="text" icon={<ArrowUpOutlined />} disabled={i === 0} aria-label={t("designer.up")} onClick={() => onChange(moveOption(options, i, i - 1))} data-testid={`option-up-${i}`} />
          <Button size="small" type="text" icon={<ArrowDownOutlined />} disabled={i === options.length - 1} aria-label={t("designer.down")} onClick={() => onChange(moveOption(options, i, i + 1))} data-testid={`option-down-${i}`} />
          <Button size="small" type="text" danger icon={<DeleteOutlined />} aria-label={t("props.removeOption")} onClick={() => onChange(removeOption(options, i))} data-testid={`option-remove-${i}`} />
          </div>
        </div>
      ))}
      <Space wrap size={4} style={{ marginBottom: 4 }}>
        <Button size="small" icon={<PlusOutlined />} onClick={() => onChange(addOption(options))} data-testid="option-add">
          {t("props.addOption")}
        </Button>
        {options.filter((o) => o.color).map((o) => (
          <Tag key={o.value} color={o.color}>{labelText(o.label, i18n.language, o.value)}</Tag>
        ))}
      </Space>
      <PasteBox options={options} onChange={onChange} />
    </div>
  );
}

function Swatch({ color }: { color: string }) {
  return <span data-testid={`color-${color.slice(1)}`} style={{ display: "inline-block", width: 14, height: 14, borderRadius: 3, background: color, verticalAlign: "middle" }} />;
}

/** `value|中文|English` lines; the text is kept while typing and follows the table otherwise. */
function PasteBox({ options, onChange }: { options: SelectOption[]; onChange(options: SelectOption[]): void }) {
  const { t } = useTranslation();
  const [text, setText] = useState(() => optionsText(options));
  const [editing, setEditing] = useState(false);
  useEffect(() => {
    if (!editing) setText(optionsText(options));
  }, [options, editing]);
  return (
    <Input.TextArea
      rows={2}
      value={text}
      placeholder={t("designer.optionsHint")}
      aria-label={t("designer.optionsHint")}
      onFocus={() => setEditing(true)}
      onBlur={() => setEditing(false)}
      onChange={(e) => {
        setText(e.target.value);
        onChange(parseOptions(e.target.value, options));
      }}
      data-testid="prop-options"
    />
  );
}
