/**
 * One member for a flow (an assignee or the flow admin), picked with the app's UserPicker.
 * Flows name users by username (they outlive ids across installs); the picker works with ids,
 * so the current username is looked up in the member directory and a picked id is turned back
 * into the username the directory answered with.
 */
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { api } from "../api/client";
import type { PickedUser } from "../api/types";
import { useAuth } from "../auth/AuthContext";
import UserPicker from "../components/UserPicker";

interface Props {
  /** The chosen username ("" for none). */
  username: string;
  onChange(username: string): void;
  /** The picker's field key (its data-testid is `users-<key>`). */
  pickerKey: string;
}

export default function AssigneeUser({ username, onChange, pickerKey }: Props) {
  const client = useQueryClient();
  const { user } = useAuth();
  const found = useQuery({
    queryKey: ["directory-user", username],
    queryFn: async () => (await api.pickUsers(username)).find((u) => u.username === username) ?? null,
    enabled: !!username,
    staleTime: 60_000,
  });
  const value = username ? { id: found.data?.id ?? -1, name: found.data?.name ?? username } : null;
  const usernameOf = (id: number): string | undefined => {
    if (user && user.id === id) return user.username;
    if (found.data?.id === id) return found.data.username;
    for (const [, list] of client.getQueriesData<PickedUser[]>({ queryKey: ["directory-users"] })) {
      const hit = list?.find((u) => u.id === id);
      if (hit) return hit.username;
    }
    return undefined;
  };
  return (
    <UserPicker
      field={{ key: pickerKey, type: "user" }}
      value={value}
      onChange={(picked) => {
        const one = Array.isArray(picked) ? picked[0] : picked;
        const name = one ? usernameOf(one.id) : "";
        if (name !== undefined) onChange(name);
      }}
    />
  );
}
