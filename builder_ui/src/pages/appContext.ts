/** What an app's pages share: the definition (from `GET /apps/{app}`) and lookups into it. */
import { useOutletContext } from "react-router";
import type { AppDef, FormDef, MenuEntry } from "../api/types";

export interface AppContext {
  app: AppDef;
}

export const useApp = (): AppContext => useOutletContext<AppContext>();

export function findForm(app: AppDef, key: string | undefined): FormDef | undefined {
  return app.forms.find((f) => f.key === key);
}

/** The app's navigation: its menu definition, or every form when the menu is empty. */
export function menuEntries(app: AppDef): (MenuEntry & { form: string })[] {
  const entries = (app.menu ?? []).filter((m): m is MenuEntry & { form: string } => typeof m.form === "string");
  const forms = new Set(app.forms.map((f) => f.key));
  const valid = entries.filter((m) => forms.has(m.form));
  return valid.length ? valid : app.forms.map((f) => ({ form: f.key, label: f.name }));
}
