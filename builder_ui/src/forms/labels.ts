/** Display texts of labels, fields, forms and options in the UI language. */
import type { FieldDef, Label, SelectOption } from "../api/types";

export function labelText(label: Label, lang: string, fallback = ""): string {
  if (label === null || label === undefined) return fallback;
  if (typeof label === "string") return label || fallback;
  const first = lang === "en" ? label.en ?? label.zh : label.zh ?? label.en;
  return first || fallback;
}

export function fieldLabel(field: FieldDef, lang: string): string {
  return labelText(field.label, lang, field.key);
}

export function optionLabel(options: SelectOption[] | undefined, value: unknown, lang: string): string {
  const option = options?.find((o) => o.value === value);
  return option ? labelText(option.label, lang, option.value) : String(value ?? "");
}
