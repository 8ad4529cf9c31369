/**
 * Hand-written types of the parts of Jimu's HTTP API (DESIGN §12) the UI uses.
 * The API returns definitions and records as open JSON, so these stay thin on purpose.
 */

export type Label = string | { zh?: string | null; en?: string | null } | null | undefined;

export interface Issue {
  path: string;
  code: string;
  message: string;
  line?: number;
  column?: number;
}

export interface User {
  id: number;
  username: string;
  display_name?: string | null;
  is_admin?: boolean;
  [key: string]: unknown;
}

/** A colleague as the member directory shows them (`GET /directory/users`). */
export interface PickedUser {
  id: number;
  name: string;
  username: string;
  department: string | null;
}

export interface LoginResult {
  token: string;
  csrf_token: string;
  expires_at: string;
  user: User;
}

export interface AppSummary {
  key: string;
  name: Label;
  version: string;
  revision?: number;
  description?: Label;
}

export interface Pack {
  key: string;
  name: Label;
  version: string;
  description?: Label;
  sample_data: boolean;
}

export interface SelectOption {
  value: string;
  label?: Label;
  color?: string;
}

export interface FieldDef {
  key: string;
  type: string;
  label?: Label;
  help?: Label;
  width?: "full" | "half" | "third" | "two_thirds" | "quarter";
  visible_when?: string;
  readonly_when?: string;
  required?: boolean;
  /** Used often to filter and sort: the server indexes the field's column. */
  index?: boolean;
  default?: unknown;
  min?: number;
  max?: number;
  precision?: number;
  currency?: string;
  options?: SelectOption[];
  target?: string;
  many?: boolean;
  expr?: string;
  fields?: FieldDef[];
  [key: string]: unknown;
}

/** A cross-field rule of a form: `expr` must be true, otherwise `message` is shown. */
export interface Validation {
  expr: string;
  message: { zh?: string; en?: string };
}

export interface FormDef {
  key: string;
  name: Label;
  title_field?: string | null;
  fields: FieldDef[];
  validations?: Validation[];
  /** Composite indexes: field keys in order, a leading "-" for descending. */
  indexes?: string[][];
  /** The approval flow bound to the form (its records start it when created). */
  flow?: string | null;
}

export interface MenuEntry {
  form?: string;
  label?: Label;
  [key: string]: unknown;
}

export interface AppDef {
  key: string;
  name: Label;
  version: string;
  description?: Label;
  forms: FormDef[];
  menu: MenuEntry[];
  _revision: number;
}

export type RecordJson = Record<string, unknown> & { _id: number; _version?: number };

export interface Page {
  items: RecordJson[];
  total: number | null;
}

export type Action = "view" | "create" | "edit" | "delete" | "export" | "import" | "links";

export interface Permissions {
  roles: string[];
  admin: boolean;
  actions: Action[];
  scopes: Record<string, unknown>;
  fields: Record<string, "hidden" | "read_only" | "editable">;
}

export interface HistoryEntry {
  version?: number;
  at?: string;
  action?: string;
  actor: { id: number; name: string } | null;
  changes: Record<string, unknown>;
  [key: string]: unknown;
}

export interface CompiledRule {
  key: string;
  js: string;
  type: string;
  reads: string[];
}

export interface RuleSet {
  formulas: CompiledRule[];
  visible_when: CompiledRule[];
  readonly_when?: CompiledRule[];
}

export interface LiveScripts extends RuleSet {
  tz: string;
  /** The member the scripts evaluate as (CURRENT_USER(), CURRENT_DEPARTMENTS()); absent: nobody. */
  user?: number | null;
  departments?: number[];
  /** Subform key → the rules of its rows (which also see the form's plain fields). */
  subforms?: Record<string, RuleSet>;
  /** Formula defaults (`{"expr": "TODAY()"}`) a new record's fill page shows before it is sent. */
  defaults?: CompiledRule[];
}

export interface PlanStep {
  op: string;
  form: string;
  field?: string | null;
  detail: Record<string, unknown>;
  message: { zh?: string; en?: string };
}

/** What publishing a definition would do (`POST /apps/{app}/plan`). */
export interface MigrationPlan {
  steps: PlanStep[];
  plan_hash: string;
}
