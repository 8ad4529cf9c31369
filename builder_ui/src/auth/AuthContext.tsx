/** Who is signed in: `/me` through the session cookie; sign-in and sign-out keep the CSRF token. */
import { QueryClient, useQuery, useQueryClient } from "@tanstack/react-query";
import { Spin } from "antd";
import { createContext, useContext, type ReactNode } from "react";
import { Navigate, useLocation } from "react-router";
import { api, ApiError, setCsrf } from "../api/client";
import type { User } from "../api/types";

interface Auth {
  user: User | null;
  loading: boolean;
  login(username: string, password: string): Promise<void>;
  logout(): Promise<void>;
}

const AuthContext = createContext<Auth | null>(null);

/** Drops every cached answer but `me` (whose observer must stay attached), for the next user. */
function forgetOthers(client: QueryClient): void {
  client.removeQueries({ predicate: (query) => query.queryKey[0] !== "me" });
}

export function AuthProvider({ children }: { children: ReactNode }) {
  const client = useQueryClient();
  const me = useQuery({
    queryKey: ["me"],
    queryFn: async () => {
      try {
        return await api.me();
      } catch (error) {
        if (error instanceof ApiError && error.status === 401) return null;
        throw error;
      }
    },
    staleTime: Infinity,
  });
  const value: Auth = {
    user: me.data ?? null,
    loading: me.isPending,
    async login(username, password) {
      const result = await api.login(username, password);
      setCsrf(result.csrf_token);
      forgetOthers(client);
      client.setQueryData(["me"], await api.me());
    },
    async logout() {
      try {
        await api.logout();
      } finally {
        setCsrf(null);
        forgetOthers(client);
        client.setQueryData(["me"], null);
      }
    },
  };
  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>;
}

export function useAuth(): Auth {
  const auth = useContext(AuthContext);
  if (!auth) throw new Error("useAuth outside AuthProvider");
  return auth;
}

export function RequireAuth({ children }: { children: ReactNode }) {
  const { user, loading } = useAuth();
  const location = useLocation();
  if (loading) return <Spin fullscreen />;
  if (!user) return <Navigate to={`/login?next=${encodeURIComponent(location.pathname + location.search)}`} replace />;
  return <>{children}</>;
}
