/** The records grid's view in its page's URL (issue 16): the filter builder's conditions
 * (`where`, JSON), the sort (`sort`, as the API takes it: `-amount`), the search (`q`) and the
 * page (`page`), beside the report's `filter` link and the open record (`open`). So a view can
 * be shared, survives a reload and the record drawer's edit, and the back button steps through
 * it. Defaults are left out of the URL. */
import type { Condition, FilterModel } from "./filter";

export interface GridView {
  where: FilterModel;
  sort?: string;
  q: string;
  page: number;
}

const EMPTY: FilterModel = { join: "AND", conditions: [] };
const SORT = /^-?[A-Za-z_][A-Za-z0-9_]*$/;

function filterModel(raw: string | null): FilterModel {
  if (!raw) return EMPTY;
  try {
    const parsed = JSON.parse(raw) as Partial<FilterModel>;
    const conditions = Array.isArray(parsed.conditions)
      ? parsed.conditions.filter((c): c is Condition => typeof c === "object" && c !== null && typeof c.field === "string" && typeof c.op === "string")
      : [];
    return { join: parsed.join === "OR" ? "OR" : "AND", conditions };
  } catch {
    return EMPTY; // a hand-edited URL: no conditions rather than a broken page
  }
}

/** The grid's view as the URL `params` hold it. */
export function readGridView(params: URLSearchParams): GridView {
  const sort = params.get("sort") ?? "";
  const page = Number(params.get("page"));
  return {
    where: filterModel(params.get("where")),
    sort: SORT.test(sort) ? sort : undefined,
    q: params.get("q") ?? "",
    page: Number.isInteger(page) && page > 1 ? page : 1,
  };
}

/** `params` with `change` applied: the other entries (`filter`, `open`...) are kept. */
export function withGridView(params: URLSearchParams, change: Partial<GridView>): URLSearchParams {
  const next = new URLSearchParams(params);
  const set = (key: string, value: string | undefined) => (value ? next.set(key, value) : next.delete(key));
  if ("where" in change) set("where", change.where && change.where.conditions.length ? JSON.stringify(change.where) : undefined);
  if ("sort" in change) set("sort", change.sort);
  if ("q" in change) set("q", change.q);
  if ("page" in change) set("page", change.page && change.page > 1 ? String(change.page) : undefined);
  return next;
}

/** `params` with one entry set (or removed when `value` is null), the others kept. */
export function withParam(params: URLSearchParams, key: string, value: string | null): URLSearchParams {
  const next = new URLSearchParams(params);
  if (value === null) next.delete(key);
  else next.set(key, value);
  return next;
}

/** The sort after a click on column `key`'s header, from the sort the grid has now: none →
 * ascending → descending → none, and another column's sort is replaced. Computed here rather
 * than taken from the table, because the table's own idea of the sort comes from the last
 * render, and a navigation renders in a transition, so a quick second click would read the
 * sort from before the first. */
export function sortAfterClick(current: string | undefined, key: string): string | undefined {
  if (current === key) return `-${key}`;
  if (current === `-${key}`) return undefined;
  return key;
}
