/** The UI's shell: providers (query cache, antd theme and locale), and the routes. */
import { MutationCache, QueryCache, QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { App as AntApp, ConfigProvider } from "antd";
import enUS from "antd/locale/en_US";
import zhCN from "antd/locale/zh_CN";
import dayjs from "dayjs";
import "dayjs/locale/zh-cn";
import { useTranslation } from "react-i18next";
import { createBrowserRouter, createRoutesFromElements, Navigate, Outlet, Route, RouterProvider } from "react-router";
import { ApiError } from "./api/client";
import { AuthProvider, RequireAuth } from "./auth/AuthContext";
import AppShell from "./pages/AppShell";
import AppLayout from "./pages/AppLayout";
import AppHome from "./pages/AppHome";
import CatalogPage from "./pages/CatalogPage";
import DesignerPage from "./pages/DesignerPage";
import FillPage from "./pages/FillPage";
import HomePage from "./pages/HomePage";
import LoginPage from "./pages/LoginPage";
import RecordsPage from "./pages/RecordsPage";
import RolesPage from "./pages/RolesPage";

// A 401 anywhere means the session ended (expired, signed out elsewhere, password changed):
// forgetting `me` sends RequireAuth to the sign-in page, which comes back here afterwards.
const signedOut = (error: unknown) => {
  if (error instanceof ApiError && error.status === 401) queryClient.setQueryData(["me"], null);
};

const queryClient: QueryClient = new QueryClient({
  queryCache: new QueryCache({ onError: signedOut }),
  mutationCache: new MutationCache({ onError: signedOut }),
  defaultOptions: {
    queries: {
      retry: (count, error) => !(error instanceof ApiError && error.status < 500) && count < 2,
      refetchOnWindowFocus: false,
    },
  },
});

// A data router, so the designer can ask before leaving with unpublished changes (useBlocker).
const router = createBrowserRouter(
  createRoutesFromElements(
    <Route
      element={
        <AuthProvider>
          <Outlet />
        </AuthProvider>
      }
    >
      <Route path="/login" element={<LoginPage />} />
      <Route
        element={
          <RequireAuth>
            <AppShell />
          </RequireAuth>
        }
      >
        <Route index element={<HomePage />} />
        <Route path="catalog" element={<CatalogPage />} />
        <Route path="apps/:app" element={<AppLayout />}>
          <Route index element={<AppHome />} />
          <Route path=":form" element={<RecordsPage />} />
          <Route path=":form/new" element={<FillPage />} />
          <Route path=":form/design" element={<DesignerPage />} />
          <Route path="_roles" element={<RolesPage />} />
          <Route path=":form/:id/edit" element={<FillPage />} />
        </Route>
        <Route path="*" element={<Navigate to="/" replace />} />
      </Route>
    </Route>,
  ),
);

export default function App() {
  const { i18n } = useTranslation();
  const en = i18n.language === "en";
  dayjs.locale(en ? "en" : "zh-cn");
  return (
    <ConfigProvider locale={en ? enUS : zhCN}>
      <AntApp>
        <QueryClientProvider client={queryClient}>
          <RouterProvider router={router} />
        </QueryClientProvider>
      </AntApp>
    </ConfigProvider>
  );
}
