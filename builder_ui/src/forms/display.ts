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

const CURRENCY_SIGNS: Record<string, string> = { CNY: "¥", USD: "$", EUR: "€", HKD: "HK$", JPY: "JP¥", GBP: "£" };

/** A decimal string with thousands separators, as Chinese finance writes amounts: 1,234,567.80. */
export function groupedNumber(value: string | number): string {
  const text = String(value);
  const match = /^(-?)(\d+)(\.\d+)?$/.exec(text);
  if (!match) return text;
  return `${match[1]}${match[2].replace(/\B(?=(\d{3})+(?!\d))/g, ",")}${match[3] ?? ""}`;
}

/** A currency's sign (¥, $, €...), or its ISO code when it has none in the table. */
export function currencySign(currency = "CNY"): string {
  return CURRENCY_SIGNS[currency] ?? currency;
}

/** An amount of money with its currency's sign: ¥1,234,567.80 (the ISO code when there is no sign). */
export function moneyText(value: string | number, currency = "CNY"): string {
  const grouped = groupedNumber(value);
  const sign = CURRENCY_SIGNS[currency];
  const negative = grouped.startsWith("-");
  const whole = negative ? grouped.slice(1) : grouped;
  // Money shows its cents (¥1,201.50), also for a value computed live in the browser ("1201.5").
  const [integer, fraction = ""] = whole.split(".");
  const body = /^[\d,]+$/.test(integer) ? `${integer}.${fraction.padEnd(2, "0")}` : whole;
  return `${negative ? "-" : ""}${sign ?? `${currency} `}${body}`;
}

/** An address as Chinese users write it: 北京市海淀区知春路 604 号 (a municipality's city, the
 * same name as its province, is written once). */
export function addressText(value: Obj): string {
  const parts = [value.province, value.city, value.district].filter(Boolean).map(String);
  const region = parts.filter((part, i) => i === 0 || part !== parts[i - 1]).join("");
  return [region, value.detail].filter(Boolean).join(" ");
}

/** What a linked record the caller may not read shows instead of its title (the server sends
 * `{"_id": 12, "title": null, "restricted": true}` for it: issue 10). */
export function noAccessText(lang: string): string {
  return lang === "en" ? "No access" : "无权限";
}

/** A relation value's text: its title, 无权限 / "No access" when it is restricted, `#id` without a title. */
export function relationTitle(ref: { _id?: unknown; title?: unknown; restricted?: unknown }, lang: string): string {
  if (ref.restricted === true) return noAccessText(lang);
  return String(ref.title ?? `#${ref._id}`);
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
    case "number":
      return groupedNumber(value as string);
    case "money":
      return moneyText(value as string, field.currency ?? "CNY");
    case "datetime":
    case "created_at":
    case "updated_at":
      return dayjs(String(value)).format("YYYY-MM-DD HH:mm");
    case "subform":
      return Array.isArray(value) ? `${value.length}` : "";
    default:
      break;
  }
  if (Array.isArray(value)) return value.map((v) => itemText(v, lang)).join(", ");
  return itemText(value, lang);
}

function itemText(value: unknown, lang: string): string {
  if (!isObj(value)) return String(value);
  if ("title" in value || value.restricted === true) return relationTitle(value, lang);
  if ("name" in value) return String(value.name ?? value.file_id ?? "");
  if ("id" in value) return `#${value.id}`;
  if ("province" in value || "detail" in value) return addressText(value);
  if ("address" in value) return String(value.address ?? `${value.lat}, ${value.lng}`);
  return JSON.stringify(value);
}
