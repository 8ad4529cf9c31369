/**
 * Types of the parts of Jimu's HTTP API (DESIGN §12) the UI uses. What the server answers is
 * generated from its OpenAPI document (`src/api/schema.d.ts`, `npm run gen:api`; the server's
 * response models live in engine/api/schemas/); the aliases below name those answers. App
 * definitions are open JSON in the API (the definition format describes them), so the UI's
 * view of a definition (`AppDef`, `FormDef`, `FieldDef`) stays written by hand here.
 */
import type { components } from "./schema";

type Schemas = components["schemas"];

export type Label = string | { zh?: string | null; en?: string | null } | null | undefined;

/** A problem with one part of the input (the one error shape's `issues`). */
export type Issue = Schemas["IssueOut"];

/** The signed-in user (`GET /me`). */
export type User = Schemas["Me"];

/** A colleague as the member directory shows them (`GET /directory/users`). */
export type PickedUser = Schemas["PickedUser"];

export type LoginResult = Schemas["LoginResult"];

export type AppSummary = Schemas["AppSummary"];

export type Pack = Schemas["PackOut"];

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

/** A record as JSON: typed system keys (`_id`, `_version`, ...), open field values. */
export type RecordJson = Schemas["RecordOut"];

export type Page = Schemas["RecordPage"];

export type Action = "view" | "create" | "edit" | "delete" | "export" | "import" | "links";

export type Permissions = Schemas["Permissions"];

export type HistoryEntry = Schemas["HistoryEntry"];

export type CompiledRule = Schemas["CompiledRule"];

export type RuleSet = Schemas["RuleSet"];

/** The fill page's rules as JavaScript and the time zone they evaluate in: a form's (`GET …/live`,
 * with the member they evaluate as) or a public link's (`GET /public/{token}/live`, as nobody). */
export type LiveScripts = Schemas["PublicLiveScripts"] & Partial<Pick<Schemas["LiveScripts"], "user" | "departments">>;

export type PlanStep = Schemas["PlanStep"];

/** What publishing a definition would do (`POST /apps/{app}/plan`). */
export type MigrationPlan = Schemas["PlanPreview"];
