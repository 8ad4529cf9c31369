/**
 * How a single select shows its options on the fill page, drawer and public form: the field's
 * `display` setting (dropdown or buttons), or by default (`auto`) buttons for up to 5 options
 * and a dropdown beyond.
 */
import type { FieldDef } from "../api/types";

/** Options a single select shows as buttons when its display is `auto`. */
export const AUTO_BUTTONS_LIMIT = 5;

export type SelectDisplay = "auto" | "dropdown" | "buttons";
export const SELECT_DISPLAYS: SelectDisplay[] = ["auto", "dropdown", "buttons"];

export function selectShowsButtons(field: FieldDef): boolean {
  const display = (field.display as SelectDisplay | undefined) ?? "auto";
  if (display === "buttons") return true;
  if (display === "dropdown") return false;
  return (field.options?.length ?? 0) <= AUTO_BUTTONS_LIMIT;
}
