/**
 * The form's "frequent filter & sort combinations" (常用筛选与排序组合): the state logic of the
 * form settings' editor of the definition's `indexes` (`[["status", "-amount"]]`: field keys in
 * order, a leading `-` for descending; each becomes a composite database index on publish, see
 * engine/forms/indexes.py). Pure functions over `string[][]`: a combination is never empty and
 * never names a field twice, so every state the editor can reach is one the engine accepts
 * (except what only the server knows: a formula computed when read has no column).
 */
import type { FieldDef, Issue } from "../api/types";
import { isIndexable } from "./properties";

/** Fields per combination the editor offers (the engine accepts up to 5). */
export const MAX_COMBINATION_FIELDS = 4;

export type Combinations = string[][];

/** One entry of a combination: its field key and whether it sorts descending. */
export interface CombinationEntry {
  key: string;
  descending: boolean;
}

export const parseEntry = (raw: string): CombinationEntry => ({ key: raw.replace(/^-/, ""), descending: raw.startsWith("-") });

export const entryText = ({ key, descending }: CombinationEntry): string => (descending ? `-${key}` : key);

/** The form's fields a combination may use: those keeping their value in a column of their own (see isIndexable). */
export function combinableFields(fields: FieldDef[]): FieldDef[] {
  return fields.filter(isIndexable);
}

const keysOf = (combination: string[]): string[] => combination.map((raw) => parseEntry(raw).key);

function replaceAt(combinations: Combinations, index: number, combination: string[]): Combinations {
  return combinations.map((c, i) => (i === index ? combination : c));
}

/** `combinations` with a new one at the end: the first combinable field, ascending (unchanged when there is none). */
export function addCombination(combinations: Combinations, fields: FieldDef[]): Combinations {
  const first = combinableFields(fields)[0];
  return first ? [...combinations, [first.key]] : combinations;
}

export function removeCombination(combinations: Combinations, index: number): Combinations {
  return combinations.filter((_, i) => i !== index);
}

/** Whether combination `index` can take one more field (below the limit, and a combinable field is left). */
export function canAddField(combinations: Combinations, index: number, fields: FieldDef[]): boolean {
  const combination = combinations[index];
  if (!combination || combination.length >= MAX_COMBINATION_FIELDS) return false;
  const used = new Set(keysOf(combination));
  return combinableFields(fields).some((f) => !used.has(f.key));
}

/** Combination `index` with the first combinable field it does not have yet appended, ascending. */
export function addCombinationField(combinations: Combinations, index: number, fields: FieldDef[]): Combinations {
  if (!canAddField(combinations, index, fields)) return combinations;
  const used = new Set(keysOf(combinations[index]));
  const next = combinableFields(fields).find((f) => !used.has(f.key))!;
  return replaceAt(combinations, index, [...combinations[index], next.key]);
}

/** Entry `place` of combination `index` set to field `key`, keeping its direction; a key already elsewhere in the combination is refused (unchanged). */
export function setCombinationField(combinations: Combinations, index: number, place: number, key: string): Combinations {
  const combination = combinations[index];
  if (!combination || place >= combination.length) return combinations;
  if (keysOf(combination).some((k, i) => k === key && i !== place)) return combinations;
  const descending = parseEntry(combination[place]).descending;
  return replaceAt(combinations, index, combination.map((raw, i) => (i === place ? entryText({ key, descending }) : raw)));
}

/** Entry `place` of combination `index` ascending or descending. */
export function setDirection(combinations: Combinations, index: number, place: number, descending: boolean): Combinations {
  const combination = combinations[index];
  if (!combination || place >= combination.length) return combinations;
  return replaceAt(combinations, index, combination.map((raw, i) => (i === place ? entryText({ key: parseEntry(raw).key, descending }) : raw)));
}

/** Entry `place` of combination `index` moved one place up (-1) or down (+1); unchanged at the ends. */
export function moveCombinationField(combinations: Combinations, index: number, place: number, delta: number): Combinations {
  const combination = combinations[index];
  const target = place + delta;
  if (!combination || place < 0 || place >= combination.length || target < 0 || target >= combination.length) return combinations;
  const next = [...combination];
  const [moved] = next.splice(place, 1);
  next.splice(target, 0, moved);
  return replaceAt(combinations, index, next);
}

/** Entry `place` of combination `index` removed; a combination left empty goes too. */
export function removeCombinationField(combinations: Combinations, index: number, place: number): Combinations {
  const combination = combinations[index];
  if (!combination) return combinations;
  const next = combination.filter((_, i) => i !== place);
  return next.length ? replaceAt(combinations, index, next) : removeCombination(combinations, index);
}

/** Field `from` renamed to `to` (a new field's key edited before its first publish) in every combination. */
export function renameInCombinations(combinations: Combinations, from: string, to: string): Combinations {
  if (from === to) return combinations;
  return combinations.map((c) => c.map((raw) => (parseEntry(raw).key === from ? entryText({ key: to, descending: parseEntry(raw).descending }) : raw)));
}

/**
 * `combinations` after fields were removed from the form: the removed fields leave every
 * combination, a combination left empty goes, and one that became the same as another (an
 * earlier one stays) goes too. `removed` lists the fields taken out (for the notice), each once.
 */
export function pruneCombinations(combinations: Combinations, fields: FieldDef[]): { combinations: Combinations; removed: string[] } {
  const present = new Set(fields.map((f) => f.key));
  const removed: string[] = [];
  const seen = new Map<string, boolean>(); // kept combination -> whether it was pruned
  const next: Combinations = [];
  let changed = false;
  for (const combination of combinations) {
    const kept = combination.filter((raw) => {
      const key = parseEntry(raw).key;
      if (present.has(key)) return true;
      if (!removed.includes(key)) removed.push(key);
      return false;
    });
    const id = JSON.stringify(kept);
    const pruned = kept.length !== combination.length;
    if (pruned) changed = true;
    if (!kept.length || (seen.has(id) && (pruned || seen.get(id)))) {
      changed = true;
      continue;
    }
    if (!seen.has(id)) seen.set(id, pruned);
    next.push(pruned ? kept : combination);
  }
  return { combinations: changed ? next : combinations, removed };
}

const COMBINATION_PATH = /\.indexes\[(\d+)\](?:\[(\d+)\])?/;

/** Where a server issue points in the combinations (`forms[0].indexes[1][2]` → 1 and 2; `forms[0].indexes[1]` → 1 and null), or null. */
export function combinationPlace(path: string | undefined): { index: number; place: number | null } | null {
  const match = COMBINATION_PATH.exec(path ?? "");
  if (!match) return null;
  return { index: Number(match[1]), place: match[2] === undefined ? null : Number(match[2]) };
}

/** The issues about combination `index`: about the whole combination (`place` null) or one of its entries. */
export function combinationIssues(issues: Issue[], index: number): { whole: Issue[]; byPlace: Map<number, Issue[]> } {
  const whole: Issue[] = [];
  const byPlace = new Map<number, Issue[]>();
  for (const issue of issues) {
    const at = combinationPlace(issue.path);
    if (!at || at.index !== index) continue;
    if (at.place === null) whole.push(issue);
    else byPlace.set(at.place, [...(byPlace.get(at.place) ?? []), issue]);
  }
  return { whole, byPlace };
}
