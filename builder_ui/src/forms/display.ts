/** Plain-text display of a record value (DESIGN §12 value table) for grids, drawers and history. */
import Decimal from "decimal.js";
import dayjs from "dayjs";
import type { FieldDef } from "../api/types";
import { optionLabel } from "./labels";

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

export function percentText(value: string | number): string {
  try {
    return `${new Decimal(value).times(100).toString()}%`;
  } catch {
    return String(value);
  }
}

export function displayText(field: FieldDef, value: unknown, lang: string, yes = "✓", no = "✗"): string {
  if (value === null || value === undefined || value === "") return "";
  switch (field.type) {
    case "select":
      return optionLabel(field.options, value, lang);
    case "multiselect":
      return Array.isArray(value) ? value.map((v) => optionLabel(field.options, v, lang)).join(", ") : String(value);
    case "checkbox":
      return value ? yes : no;
    case "percent":
      return percentText(value as string);
    case "datetime":
    case "created_at":
    case "updated_at":
      return dayjs(String(value)).format("YYYY-MM-DD HH:mm");
    case "subform":
      return Array.isArray(value) ? `${value.length}` : "";
    default:
      break;
  }
  if (Array.isArray(value)) return value.map((v) => itemText(v)).join(", ");
  return itemText(value);
}

function itemText(value: unknown): string {
  if (!isObj(value)) return String(value);
  if ("title" in value) return String(value.title ?? `#${value._id}`);
  if ("name" in value) return String(value.name ?? value.file_id ?? "");
  if ("id" in value) return `#${value.id}`;
  if ("province" in value || "detail" in value)
    return [value.province, value.city, value.district, value.detail].filter(Boolean).join(" ");
  if ("address" in value) return String(value.address ?? `${value.lat}, ${value.lng}`);
  return JSON.stringify(value);
}
