/** The input of one field on the fill page, chosen by field type; values in the API's JSON form. */
import { Checkbox, DatePicker, Input, InputNumber, Radio, Select, TimePicker, Typography } from "antd";
import Decimal from "decimal.js";
import dayjs from "dayjs";
import { useTranslation } from "react-i18next";
import type { AppDef, FieldDef } from "../api/types";
import { currencySign } from "../forms/display";
import { INTEGER_TYPES } from "../forms/fieldTypes";
import type { FileRef } from "../forms/files";
import { labelText } from "../forms/labels";
import { selectShowsButtons } from "../forms/selectDisplay";
import type { AddressValue } from "../forms/regions";
import LocationInput from "./LocationInput";
import type { LocationValue } from "../forms/location";
import AddressInput from "./AddressInput";
import DepartmentPicker from "./DepartmentPicker";
import FieldValue from "./FieldValue";
import FileUpload from "./FileUpload";
import RelationPicker from "./RelationPicker";
import SignatureInput from "./SignatureInput";
import UserPicker from "./UserPicker";

interface Props {
  app: AppDef;
  field: FieldDef;
  value: unknown;
  onChange(value: unknown): void;
  disabled?: boolean;
  autoFocus?: boolean;
  /** Prefix of the input's DOM id (rows of a subform need their own). */
  idPrefix?: string;
}

/** `value` × `factor` as a decimal string (÷ when `divide`), null for blank or not a number. */
function scaled(value: unknown, factor: number, divide = false): string | null {
  if (value === null || value === undefined || value === "") return null;
  try {
    const decimal = new Decimal(String(value));
    return (divide ? decimal.div(factor) : decimal.times(factor)).toString();
  } catch {
    return null;
  }
}

interface DecimalProps {
  id: string;
  value: unknown;
  onChange(value: string | null): void;
  /** Shown value = stored value × factor (100 for percent). */
  factor?: number;
  prefix?: string;
  suffix?: string;
  disabled?: boolean;
  autoFocus?: boolean;
}

/** Number, money and percent inputs: exact decimals as strings (no float rounding), a sign or unit. */
function DecimalInput({ id, value, onChange, factor = 1, prefix, suffix, disabled, autoFocus }: DecimalProps) {
  return (
    <InputNumber<string>
      id={id}
      autoFocus={autoFocus}
      stringMode
      style={{ width: "100%" }}
      value={factor === 1 ? ((value as string) ?? null) : scaled(value, factor)}
      onChange={(v) => onChange(v === null || v === "" ? null : factor === 1 ? String(v) : scaled(v, factor, true))}
      prefix={prefix}
      suffix={suffix}
      disabled={disabled}
      inputMode="decimal"
    />
  );
}

export default function FieldInput({ app, field, value, onChange, disabled, autoFocus, idPrefix = "field-input-" }: Props) {
  const { t, i18n } = useTranslation();
  const id = `${idPrefix}${field.key}`;
  const options = (field.options ?? []).map((o) => ({ value: o.value, label: labelText(o.label, i18n.language, o.value) }));
  switch (field.type) {
    case "text":
    case "email":
    case "phone":
    case "url":
      return (
        <Input
          id={id}
          autoFocus={autoFocus}
          value={(value as string) ?? ""}
          onChange={(e) => onChange(e.target.value)}
          disabled={disabled}
          inputMode={field.type === "phone" ? "tel" : field.type === "email" ? "email" : undefined}
        />
      );
    case "textarea":
    case "rich_text":
      return <Input.TextArea id={id} autoFocus={autoFocus} autoSize={{ minRows: 3 }} value={(value as string) ?? ""} onChange={(e) => onChange(e.target.value)} disabled={disabled} />;
    case "number":
    case "money":
    case "percent":
      return (
        <DecimalInput
          id={id}
          autoFocus={autoFocus}
          value={value}
          onChange={onChange}
          factor={field.type === "percent" ? 100 : 1}
          prefix={field.type === "money" ? currencySign(field.currency ?? "CNY") : undefined}
          suffix={field.type === "percent" ? "%" : undefined}
          disabled={disabled}
        />
      );
    case "integer":
    case "rating":
      return (
        <InputNumber
          id={id}
          autoFocus={autoFocus}
          precision={0}
          style={{ width: "100%" }}
          value={(value as number) ?? null}
          onChange={(v) => onChange(v ?? null)}
          disabled={disabled}
          inputMode="numeric"
        />
      );
    case "checkbox":
      return (
        <Checkbox id={id} checked={value === true} onChange={(e) => onChange(e.target.checked)} disabled={disabled}>
          {t("fill.yes")}
        </Checkbox>
      );
    case "select":
      return selectShowsButtons(field) ? (
        <Radio.Group
          id={id}
          className="jimu-choice-buttons"
          optionType="button"
          buttonStyle="solid"
          options={options}
          value={value ?? null}
          onChange={(e) => onChange(e.target.value)}
          disabled={disabled}
        />
      ) : (
        <Select id={id} autoFocus={autoFocus} allowClear options={options} value={value ?? undefined} onChange={(v) => onChange(v ?? null)} disabled={disabled} style={{ width: "100%" }} />
      );
    case "multiselect":
      return <Select id={id} autoFocus={autoFocus} mode="multiple" options={options} value={(value as string[]) ?? []} onChange={onChange} disabled={disabled} style={{ width: "100%" }} />;
    case "date":
      return (
        <DatePicker
          id={id}
          autoFocus={autoFocus}
          style={{ width: "100%" }}
          value={value ? dayjs(String(value)) : null}
          onChange={(d) => onChange(d ? d.format("YYYY-MM-DD") : null)}
          disabled={disabled}
        />
      );
    case "datetime":
      return (
        <DatePicker
          id={id}
          autoFocus={autoFocus}
          showTime
          style={{ width: "100%" }}
          value={value ? dayjs(String(value)) : null}
          onChange={(d) => onChange(d ? d.toDate().toISOString() : null)}
          disabled={disabled}
        />
      );
    case "time":
      return (
        <TimePicker
          id={id}
          autoFocus={autoFocus}
          style={{ width: "100%" }}
          value={value ? dayjs(`2000-01-01T${String(value)}`) : null}
          onChange={(d) => onChange(d ? d.format("HH:mm:ss") : null)}
          disabled={disabled}
        />
      );
    case "relation":
      return <RelationPicker app={app} field={field} value={value as never} onChange={onChange} disabled={disabled} autoFocus={autoFocus} />;
    case "user":
    case "users":
      return <UserPicker id={id} field={field} value={value as never} onChange={onChange} disabled={disabled} autoFocus={autoFocus} />;
    case "department":
    case "departments":
      return <DepartmentPicker id={id} field={field} value={value as never} onChange={onChange} disabled={disabled} autoFocus={autoFocus} />;
    case "attachment":
    case "image":
      return <FileUpload id={id} field={field} value={value} onChange={(v: FileRef[] | null) => onChange(v)} disabled={disabled} />;
    case "signature":
      return <SignatureInput id={id} field={field} value={value} onChange={(v: FileRef[] | null) => onChange(v)} disabled={disabled} />;
    case "address":
      return <AddressInput id={id} field={field} value={value as AddressValue | null} onChange={onChange} disabled={disabled} autoFocus={autoFocus} />;
    case "location":
      return <LocationInput id={id} field={field} value={value as LocationValue | null} onChange={onChange} disabled={disabled} autoFocus={autoFocus} />;
    default:
      // Anything without an input (computed and layout types): shown read-only.
      return (
        <Typography.Text type="secondary">
          <FieldValue field={field} value={value} />
        </Typography.Text>
      );
  }
}

export const EDITABLE_TYPES = new Set([
  "text",
  "email",
  "phone",
  "url",
  "textarea",
  "rich_text",
  "number",
  "money",
  "percent",
  ...INTEGER_TYPES,
  "checkbox",
  "select",
  "multiselect",
  "date",
  "datetime",
  "time",
  "relation",
  "user",
  "users",
  "department",
  "departments",
  "attachment",
  "image",
  "signature",
  "address",
  "location",
]);
