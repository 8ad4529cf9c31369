/**
 * Where the property panel's editors work: the app (other forms, for relations, lookups and
 * data linkage), the form being designed with its draft fields, and the subform row a field
 * sits in (if any). Formula checks send the draft built from this.
 */
import type { AppDef, FieldDef } from "../../api/types";
import { buildDefinition } from "../state";

export interface DesignContext {
  app: AppDef | undefined;
  formKey: string | undefined;
  /** The form's fields as drafted (not only the published ones). */
  formFields: FieldDef[];
  /** The key of the subform whose row the selected field belongs to. */
  subform?: string;
  /** The key of the field being edited (its formulas cannot read it). */
  fieldKey?: string;
  /** A rule's formula over its triggering record: `OLD(field)` is allowed. */
  rule?: boolean;
}

/** The body of `POST /expr/check` for a formula of this context: the draft app, form and row. */
export function checkBody(expr: string, context: DesignContext): Record<string, unknown> {
  const app = context.app && context.formKey ? buildDefinition(context.app, context.formKey, context.formFields) : undefined;
  return { expr, app: app ?? { forms: [] }, form: context.formKey ?? "", ...(context.subform ? { subform: context.subform } : {}), ...(context.rule ? { rule: true } : {}) };
}

/** The fields of the subform row a field belongs to (empty at the form's top level). */
export function rowFields(context: DesignContext): FieldDef[] {
  if (!context.subform) return [];
  return context.formFields.find((f) => f.key === context.subform)?.fields ?? [];
}
