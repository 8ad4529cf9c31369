/**
 * 报表设计 · Report designer list: the app's reports with their source form and chart, links
 * to open and edit each, and 新建报表 (the designer on a draft). Builders only (administrators
 * and the app's builder roles; the server enforces the same on save).
 */
import { BarChartOutlined, PlusOutlined } from "@ant-design/icons";
import { Button, Card, Empty, List, Result, Space, Spin, Tag, Typography } from "antd";
import { useTranslation } from "react-i18next";
import { Link, useNavigate } from "react-router";
import { labelText } from "../forms/labels";
import { useIsBuilder } from "../reports/access";
import { NEW_REPORT, reportName, reportsOf } from "../reports/definition";
import { useApp } from "./appContext";

export default function ReportsPage() {
  const { t, i18n } = useTranslation();
  const lang = i18n.language === "en" ? "en" : "zh";
  const { app } = useApp();
  const navigate = useNavigate();
  const { builder, pending } = useIsBuilder(app);
  if (pending) return <Spin />;
  if (!builder) return <Result status="403" title={t("errors.forbidden")} />;
  const reports = reportsOf(app);
  return (
    <>
      <Space style={{ display: "flex", justifyContent: "space-between", marginBottom: 8 }} wrap>
        <Typography.Title level={3} style={{ margin: 0 }}>
          <BarChartOutlined /> {t("reports.manage")}
        </Typography.Title>
        <Button type="primary" icon={<PlusOutlined />} onClick={() => navigate(`/apps/${app.key}/_reports/${NEW_REPORT}/edit`)} data-testid="report-create">
          {t("reports.create")}
        </Button>
      </Space>
      <Typography.Paragraph type="secondary">{t("reports.intro")}</Typography.Paragraph>
      <Card size="small">
        {reports.length === 0 ? (
          <Empty description={t("reports.empty")} />
        ) : (
          <List
            dataSource={reports}
            rowKey="key"
            renderItem={(report) => (
              <List.Item data-testid={`report-row-${report.key}`} style={{ flexWrap: "wrap", gap: 8 }}>
                <Space wrap size={6} style={{ flex: "1 1 240px", minWidth: 0 }}>
                  <Link to={`/apps/${app.key}/reports/${report.key}`} style={{ fontWeight: 600 }}>
                    {reportName(report, lang) || t("reports.unnamed")}
                  </Link>
                  <Tag color="blue">{labelText(app.forms.find((f) => f.key === report.form)?.name, lang, report.form)}</Tag>
                  <Tag>{t(`reports.charts.${report.chart?.type ?? "table"}`, { defaultValue: report.chart?.type ?? "table" })}</Tag>
                </Space>
                <Space wrap size={8}>
                  <Link to={`/apps/${app.key}/reports/${report.key}`} data-testid={`report-open-${report.key}`}>
                    {t("reports.open")}
                  </Link>
                  <Link to={`/apps/${app.key}/_reports/${report.key}/edit`} data-testid={`report-edit-${report.key}`}>
                    {t("reports.edit")}
                  </Link>
                </Space>
              </List.Item>
            )}
          />
        )}
      </Card>
    </>
  );
}
