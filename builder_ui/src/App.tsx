/**
 * The UI's shell: providers (query cache, antd theme and locale), and the routes. Pages load
 * lazily (each its own chunk, fetched when first opened), so the first page load carries only
 * the shell; public links (`/public/:token`) live outside the signed-in shell. Every page waits
 * for the field types' traits (`GET /schema/field-types`, public), which the UI reads instead of
 * keeping its own lists of type names.
 */
import { MutationCache, QueryCache, QueryClient, QueryClientProvider, useQuery } from "@tanstack/react-query";
import { App as AntApp, Button, ConfigProvider, Result, Spin } from "antd";
import enUS from "antd/locale/en_US";
import zhCN from "antd/locale/zh_CN";
import dayjs from "dayjs";
import "dayjs/locale/zh-cn";
import { lazy, Suspense, type ComponentType, type LazyExoticComponent, type ReactNode } from "react";
import { useTranslation } from "react-i18next";
import { createBrowserRouter, createRoutesFromElements, Navigate, Outlet, Route, RouterProvider } from "react-router";
import { ApiError, api } from "./api/client";
import { AuthProvider, RequireAuth } from "./auth/AuthContext";
import { motionTheme, useReducedMotion } from "./components/reducedMotion";
import { setFieldTypes } from "./forms/fieldTypes";
import AppShell from "./pages/AppShell";
import AppLayout from "./pages/AppLayout";

/** How far from the top messages open: below a record drawer's header, even when its buttons wrap on a phone. */
const MESSAGE_TOP = 120;

const AppHome = lazy(() => import("./pages/AppHome"));
const CatalogPage = lazy(() => import("./pages/CatalogPage"));
const DesignerPage = lazy(() => import("./pages/DesignerPage"));
const FillPage = lazy(() => import("./pages/FillPage"));
const FlowDesignerPage = lazy(() => import("./pages/FlowDesignerPage"));
const FlowsPage = lazy(() => import("./pages/FlowsPage"));
const HomePage = lazy(() => import("./pages/HomePage"));
const InboxPage = lazy(() => import("./pages/InboxPage"));
const LinksPage = lazy(() => import("./pages/LinksPage"));
const LoginPage = lazy(() => import("./pages/LoginPage"));
const OrgPage = lazy(() => import("./pages/OrgPage"));
const PublicPage = lazy(() => import("./pages/PublicPage"));
const RecordsPage = lazy(() => import("./pages/RecordsPage"));
const ReportDesignerPage = lazy(() => import("./pages/ReportDesignerPage"));
const ReportPage = lazy(() => import("./pages/ReportPage"));
const ReportsPage = lazy(() => import("./pages/ReportsPage"));
const RolesPage = lazy(() => import("./pages/RolesPage"));
const RuleDesignerPage = lazy(() => import("./pages/RuleDesignerPage"));
const RuleRunsPage = lazy(() => import("./pages/RuleRunsPage"));
const RulesPage = lazy(() => import("./pages/RulesPage"));

/** A lazily loaded page with its own loading state (the shell around it stays in place). */
function page(Page: LazyExoticComponent<ComponentType>) {
  return (
    <Suspense fallback={<Spin style={{ display: "block", margin: "48px auto" }} />}>
      <Page />
    </Suspense>
  );
}

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

/** Renders its children once the field types' traits are known (loaded once per session). */
function FieldTypesReady({ children }: { children: ReactNode }) {
  const { t } = useTranslation();
  const palette = useQuery({ queryKey: ["field-types"], queryFn: api.fieldTypes, staleTime: Infinity });
  if (palette.data) setFieldTypes(palette.data);
  else if (palette.isError)
    return (
      <Result
        status="error"
        title={t("errors.generic")}
        subTitle={palette.error.message}
        extra={<Button onClick={() => void palette.refetch()}>{t("errors.retry")}</Button>}
      />
    );
  else return <Spin style={{ display: "block", margin: "48px auto" }} />;
  return children;
}

// A data router, so the designer can ask before leaving with unpublished changes (useBlocker).
const router = createBrowserRouter(
  createRoutesFromElements(
    <Route
      element={
        <FieldTypesReady>
          <AuthProvider>
            <Outlet />
          </AuthProvider>
        </FieldTypesReady>
      }
    >
      <Route path="/login" element={page(LoginPage)} />
      <Route path="/public/:token" element={page(PublicPage)} />
      <Route
        element={
          <RequireAuth>
            <AppShell />
          </RequireAuth>
        }
      >
        <Route index element={page(HomePage)} />
        <Route path="catalog" element={page(CatalogPage)} />
        <Route path="inbox" element={page(InboxPage)} />
        <Route path="admin/org" element={page(OrgPage)} />
        <Route path="apps/:app" element={<AppLayout />}>
          <Route index element={page(AppHome)} />
          <Route path=":form" element={page(RecordsPage)} />
          <Route path=":form/new" element={page(FillPage)} />
          <Route path=":form/design" element={page(DesignerPage)} />
          <Route path=":form/links" element={page(LinksPage)} />
          <Route path="_roles" element={page(RolesPage)} />
          <Route path="_flows" element={page(FlowsPage)} />
          <Route path="_flows/:flow" element={page(FlowDesignerPage)} />
          <Route path="_rules" element={page(RulesPage)} />
          <Route path="_rules/:rule" element={page(RuleDesignerPage)} />
          <Route path="_rules/:rule/runs" element={page(RuleRunsPage)} />
          <Route path="_reports" element={page(ReportsPage)} />
          <Route path="_reports/:report/edit" element={page(ReportDesignerPage)} />
          <Route path="reports/:report" element={page(ReportPage)} />
          <Route path=":form/:id/edit" element={page(FillPage)} />
        </Route>
        <Route path="*" element={<Navigate to="/" replace />} />
      </Route>
    </Route>,
  ),
);

export default function App() {
  const { i18n } = useTranslation();
  const en = i18n.language === "en";
  const reducedMotion = useReducedMotion();
  dayjs.locale(en ? "en" : "zh-cn");
  return (
    <ConfigProvider locale={en ? enUS : zhCN} theme={motionTheme(reducedMotion)}>
      {/* Messages open below a drawer's header (its title and buttons), never over it (issue 16). */}
      <AntApp message={{ top: MESSAGE_TOP }}>
        <QueryClientProvider client={queryClient}>
          <RouterProvider router={router} />
        </QueryClientProvider>
      </AntApp>
    </ConfigProvider>
  );
}
