/**
 * The flow pages' calls: publish the app's flows (`PUT /apps/{app}/flows`, administrators and
 * builder roles) or, when a form's `flow` binding changes too (a new flow, a deleted one), the
 * whole definition (`PUT /apps/{app}`, administrators), each based on the `_revision` read.
 */
import { apiPath, request } from "../api/client";
import type { AppDef } from "../api/types";
import type { FlowApp } from "./definition";
import type { FlowDef } from "./tree";

export interface FlowsPublished {
  flows: FlowDef[];
  _revision: number;
}

/** Publish `flows` as the app's flows; the answer merged into `app` (what the cache keeps). */
export async function publishFlows(app: AppDef, flows: FlowDef[]): Promise<AppDef> {
  const saved = await request<FlowsPublished>("PUT", apiPath(`/apps/${encodeURIComponent(app.key)}/flows`), { _revision: app._revision, flows });
  return { ...app, flows: saved.flows, _revision: saved._revision } as AppDef;
}

/** Publish a whole definition (flows with their forms' bindings); the published definition. */
export async function publishDefinition(app: AppDef, definition: FlowApp): Promise<AppDef> {
  const saved = await request<AppDef & { plan?: unknown; warnings?: unknown }>("PUT", apiPath(`/apps/${encodeURIComponent(app.key)}`), { ...definition, _revision: app._revision });
  const rest: Record<string, unknown> = { ...saved };
  delete rest.plan;
  delete rest.warnings;
  return rest as unknown as AppDef;
}
