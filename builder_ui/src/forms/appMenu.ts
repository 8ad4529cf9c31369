/** The app as the signed-in user may use it (`GET /apps/{app}/menu`, issue 16): per form whether
 * they may read and create, so menus leave out the forms they can do neither with and offer only
 * filling in where they may only create; and how lookups, rollups and formulas show — like their
 * source field (a lookup of a select shows the option's label) or in their formula's format. */
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { api } from "../api/client";
import type { AppDef, FieldDef, SelectOption } from "../api/types";

/** How a computed field shows: the type whose display it borrows and that type's settings. */
export interface DisplayEntry {
  type: string;
  options?: SelectOption[];
  currency?: string;
  precision?: number;
}

export interface FormMenu {
  read: boolean;
  create: boolean;
  /** By field key; a subform's fields as `subform.field`. */
  display: Record<string, DisplayEntry>;
}

export interface AppMenu {
  forms: Record<string, FormMenu>;
  /** Keys of the reports I may run (the engine decides: I may view the report's form and it
   * reads no field hidden from me). */
  reports?: string[];
}

/** The menu answer of `app` for the signed-in user (kept per revision; none before the app is loaded). */
export function useAppMenu(app: AppDef | undefined) {
  return useQuery({
    queryKey: ["menu", app?.key, app?._revision],
    queryFn: () => api.menu(app!.key),
    enabled: !!app,
    staleTime: 60_000,
    placeholderData: keepPreviousData, // after a publish, the menu stays until the new answer
  });
}

/** What the user may do with form `key`: everything until the answer is known (the engine
 * still refuses), nothing for a form the answer does not name. */
export function formUse(menu: AppMenu | undefined, key: string): { read: boolean; create: boolean } {
  if (!menu) return { read: true, create: true };
  const found = menu.forms[key];
  return found ? { read: found.read, create: found.create } : { read: false, create: false };
}

/** `field` as it should be shown: a lookup, rollup or formula takes its display entry's type and
 * settings (a subform's row fields too); other fields are returned as they are. */
export function displayField(field: FieldDef, display: Record<string, DisplayEntry> | undefined, prefix = ""): FieldDef {
  if (!display) return field;
  const entry = display[`${prefix}${field.key}`];
  let shown = field;
  if (entry) {
    const { type, options, currency, precision } = entry;
    shown = { ...field, type };
    if (options !== undefined) shown.options = options;
    if (currency !== undefined) shown.currency = currency;
    if (precision !== undefined) shown.precision = precision;
  }
  if (field.type === "subform" && field.fields) shown = { ...shown, fields: field.fields.map((sub) => displayField(sub, display, `${field.key}.`)) };
  return shown;
}
