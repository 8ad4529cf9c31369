/**
 * One report as its viewers see it (the app menu's 报表 group): the result of `POST
 * …/reports/{report}/run` drawn as its chart, 导出 Excel / CSV (downloads of the same result),
 * and an edit link for builders. The server applies the viewer's scope; a field hidden from the
 * viewer answers 无权限, shown in place. Fits a 375 px phone: charts resize, tables scroll in
 * their card.
 */
import { DownloadOutlined, EditOutlined } from "@ant-design/icons";
import { useQuery } from "@tanstack/react-query";
import { Alert, App, Button, Card, Result, Space, Spin, Typography } from "antd";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { Link, useParams } from "react-router";
import { useIsBuilder } from "../reports/access";
import { previewProblem, reportsApi } from "../reports/api";
import { designerState, reportName, reportsOf } from "../reports/definition";
import ReportView from "../reports/ReportView";
import { useApp } from "./appContext";

export default function ReportPage() {
  const { report: key } = useParams();
  const { t, i18n } = useTranslation();
  const lang = i18n.language === "en" ? "en" : "zh";
  const { app } = useApp();
  const { message } = App.useApp();
  const { builder } = useIsBuilder(app);
  const [exporting, setExporting] = useState<string | null>(null);
  const found = reportsOf(app).find((r) => r.key === key);
  const result = useQuery({
    queryKey: ["report-run", app.key, key, app._revision],
    queryFn: () => reportsApi.run(app.key, key!),
    enabled: !!found,
    retry: false,
  });
  if (!found) return <Result status="404" title={t("reports.notFound")} />;
  const report = designerState(found);

  const download = async (format: "xlsx" | "csv") => {
    setExporting(format);
    try {
      const name = await reportsApi.download(app.key, report.key, format);
      message.success(t("reports.exported", { name }));
    } catch (error) {
      message.error(t("reports.exportFailed", { message: error instanceof Error ? error.message : String(error) }));
    } finally {
      setExporting(null);
    }
  };

  const problem = result.isError ? previewProblem(result.error) : null;
  return (
    <>
      <Space style={{ display: "flex", justifyContent: "space-between", marginBottom: 8 }} wrap>
        <Typography.Title level={3} style={{ margin: 0 }} data-testid="report-title">
          {reportName(report, lang) || t("reports.unnamed")}
        </Typography.Title>
        <Space wrap>
          <Button icon={<DownloadOutlined />} loading={exporting === "xlsx"} onClick={() => download("xlsx")} data-testid="report-export-xlsx">
            {t("reports.exportXlsx")}
          </Button>
          <Button icon={<DownloadOutlined />} loading={exporting === "csv"} onClick={() => download("csv")} data-testid="report-export-csv">
            {t("reports.exportCsv")}
          </Button>
          {builder && (
            <Link to={`/apps/${app.key}/_reports/${report.key}/edit`} data-testid="report-edit">
              <EditOutlined /> {t("reports.edit")}
            </Link>
          )}
        </Space>
      </Space>
      <Card size="small" style={{ minWidth: 0, overflow: "hidden" }} data-testid="report-card">
        {result.isPending ? (
          <Spin />
        ) : problem ? (
          <Alert
            type={problem.kind === "forbidden" ? "warning" : "error"}
            data-testid="report-problem"
            title={
              problem.kind === "forbidden"
                ? t("reports.forbidden", { message: problem.message })
                : problem.kind === "too_large"
                  ? t("reports.tooLarge", { message: problem.message })
                  : t("reports.failed", { message: problem.message })
            }
          />
        ) : (
          <ReportView app={app} report={report} result={result.data!} testId="report" />
        )}
      </Card>
    </>
  );
}
