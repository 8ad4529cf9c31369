/** Whether the signed-in member may design the app's reports (a hook over `GET
 * …/permissions/me` of the app's first form: roles are app-wide). */
import { useQuery } from "@tanstack/react-query";
import { api } from "../api/client";
import type { AppDef } from "../api/types";
import { useAuth } from "../auth/AuthContext";
import { isBuilder } from "./menu";

export function useIsBuilder(app: AppDef | undefined): { builder: boolean; pending: boolean } {
  const { user } = useAuth();
  const form = app?.forms[0]?.key;
  const admin = !!user?.is_admin;
  const permissions = useQuery({
    queryKey: ["permissions", app?.key, form],
    queryFn: () => api.permissions(app!.key, form!),
    enabled: !!app && !!form && !admin,
    retry: false,
  });
  if (!app) return { builder: false, pending: true };
  if (admin) return { builder: true, pending: false };
  return { builder: isBuilder(app, false, permissions.data?.roles ?? []), pending: permissions.isPending && !!form };
}
