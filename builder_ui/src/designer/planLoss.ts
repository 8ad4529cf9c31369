/**
 * What a migration plan does to existing data, for the designer's confirm: the values a type
 * change cannot convert (they are emptied and kept in a backup), and the records it names.
 */
import type { MigrationPlan, PlanStep } from "../api/types";

/** A record a type change names: its id, title (when the form has one) and the value that fails. */
export interface FailedValue {
  id: number;
  title: string | null;
  value: string;
}

/** The values a step cannot convert (0 for other steps). */
export function notConverted(step: PlanStep): number {
  const count = step.detail?.not_converted;
  return typeof count === "number" ? count : 0;
}

/** The records a step names, and how many more it did not name. */
export function namedFailures(step: PlanStep): { named: FailedValue[]; more: number } {
  const samples = step.detail?.not_converted_samples;
  const named = Array.isArray(samples) ? (samples as FailedValue[]) : [];
  return { named, more: Math.max(0, notConverted(step) - named.length) };
}

/** Values the whole plan empties into backups: the publish is dangerous when this is > 0. */
export function valuesBackedUp(plan: MigrationPlan | null): number {
  return (plan?.steps ?? []).reduce((sum, step) => sum + notConverted(step), 0);
}

/** The form a step is about (a sub-field's `items.qty` belongs to the form's record). */
export function recordLink(app: string, step: PlanStep, id: number): string {
  return `/apps/${encodeURIComponent(app)}/${encodeURIComponent(step.form)}?open=${id}`;
}
