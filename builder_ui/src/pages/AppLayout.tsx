/** One app: its navigation (from the menu definition, a 报表 group with the app's reports, and 流程,
 * 自动化 for administrators and 报表设计 for builders) beside the page of the chosen form. */
import { ApartmentOutlined, BarChartOutlined, ThunderboltOutlined } from "@ant-design/icons";
import { useQuery } from "@tanstack/react-query";
import { Grid, Layout, Menu, Result, Spin } from "antd";
import type { ReactNode } from "react";
import { useTranslation } from "react-i18next";
import { Link, Outlet, useMatch, useParams } from "react-router";
import { api, ApiError } from "../api/client";
import { useAuth } from "../auth/AuthContext";
import { formUse, useAppMenu } from "../forms/appMenu";
import { labelText } from "../forms/labels";
import { useIsBuilder } from "../reports/access";
import { reportName, reportsOf } from "../reports/menu";
import { menuEntries, type AppContext } from "./appContext";

export default function AppLayout() {
  const { app: key, form } = useParams();
  const { t, i18n } = useTranslation();
  const { user } = useAuth();
  const onFlows = useMatch("/apps/:app/_flows/*");
  const onRules = useMatch("/apps/:app/_rules/*");
  const onReports = useMatch("/apps/:app/_reports/*");
  const onReport = useMatch("/apps/:app/reports/:report");
  const app = useQuery({ queryKey: ["app", key], queryFn: () => api.app(key!) });
  const { builder } = useIsBuilder(app.data);
  const menu = useAppMenu(app.data);
  const wide = Grid.useBreakpoint().md === true; // the sider's breakpoint
  if (app.isPending) return <Spin />;
  if (app.isError || !app.data) {
    const notFound = app.error instanceof ApiError && app.error.status === 404;
    return <Result status={notFound ? "404" : "error"} title={notFound ? t("errors.notFound") : t("errors.generic")} />;
  }
  const context: AppContext = { app: app.data };
  // Forms the user can neither read nor fill in are left out; fill-only ones open the fill page.
  const usable = menuEntries(app.data).filter((entry) => {
    const use = formUse(menu.data, entry.form);
    return use.read || use.create;
  });
  const items: { key: string; label: ReactNode; children?: { key: string; label: ReactNode }[] }[] = usable.map((entry) => ({
    key: entry.form,
    label: (
      <Link to={`/apps/${key}/${entry.form}${formUse(menu.data, entry.form).read ? "" : "/new"}`} data-testid={`menu-${entry.form}`}>
        {labelText(entry.label ?? app.data.forms.find((f) => f.key === entry.form)?.name, i18n.language, entry.form)}
      </Link>
    ),
  }));
  // Only the reports I may run, as the engine answers; no 报表 group when there is none (nor
  // before the answer).
  const runnable = new Set(menu.data?.reports ?? []);
  const reports = reportsOf(app.data).filter((report) => runnable.has(report.key));
  if (reports.length)
    items.push({
      key: "_report_group",
      label: (
        <span data-testid="menu-report-group">
          <BarChartOutlined /> {t("reports.group")}
        </span>
      ),
      children: reports.map((report) => ({
        key: `report:${report.key}`,
        label: (
          <Link to={`/apps/${key}/reports/${report.key}`} data-testid={`menu-report-${report.key}`}>
            {reportName(report, i18n.language === "en" ? "en" : "zh") || t("reports.unnamed")}
          </Link>
        ),
      })),
    });
  if (user?.is_admin)
    items.push({
      key: "_flows",
      label: (
        <Link to={`/apps/${key}/_flows`} data-testid="menu-flows">
          <ApartmentOutlined /> {t("flows.open")}
        </Link>
      ),
    });
  if (user?.is_admin)
    items.push({
      key: "_rules",
      label: (
        <Link to={`/apps/${key}/_rules`} data-testid="menu-rules">
          <ThunderboltOutlined /> {t("rules.open")}
        </Link>
      ),
    });
  if (builder)
    items.push({
      key: "_reports",
      label: (
        <Link to={`/apps/${key}/_reports`} data-testid="menu-reports">
          <BarChartOutlined /> {t("reports.manage")}
        </Link>
      ),
    });
  const selected = onFlows ? "_flows" : onRules ? "_rules" : onReports ? "_reports" : onReport ? `report:${onReport.params.report}` : form;
  return (
    <Layout style={{ background: "transparent", minHeight: "calc(100vh - 96px)" }}>
      <Layout.Sider breakpoint="md" collapsedWidth={0} width={180} theme="light" style={{ marginRight: 16 }} zeroWidthTriggerStyle={{ top: 8 }}>
        <div style={{ padding: "12px 16px", fontWeight: 600 }}>
          <Link to={`/apps/${key}`} data-testid="app-home">
            {labelText(app.data.name, i18n.language, app.data.key)}
          </Link>
        </div>
        {/* Not before the engine's answer on what I may use: entries appearing or going after
            the first paint would move the ones below while someone clicks them. */}
        {menu.isPending ? (
          <Spin size="small" style={{ display: "block", padding: "12px 16px" }} data-testid="menu-loading" />
        ) : (
          // The 报表 group opens by default beside the content only: in the collapsed phone
          // sider an open group is a popup over the page.
          <Menu
            key={wide ? "wide" : "narrow"}
            mode="inline"
            selectedKeys={selected ? [selected] : []}
            defaultOpenKeys={wide ? ["_report_group"] : []}
            items={items}
            style={{ borderInlineEnd: 0 }}
          />
        )}
      </Layout.Sider>
      <Layout.Content className="jimu-app-content" style={{ minWidth: 0 }}>
        <Outlet context={context} />
      </Layout.Content>
    </Layout>
  );
}
