/**
 * A report result drawn as its chart type: a table or a pivot (cross table with subtotal and
 * total lines) scrolling inside its card, a KPI number with the previous period, or an ECharts
 * chart. Dimension cells, pivot lines and bars link to the records behind them (the records page
 * with the equivalent filter) when the dimension values can be said as a filter.
 */
import { Button, Statistic, Table, Typography } from "antd";
import { useMemo, useState } from "react";
import { useTranslation } from "react-i18next";
import { Link, useNavigate } from "react-router";
import type { AppDef } from "../api/types";
import EChart from "./EChart";
import {
  anyText,
  cellLabel,
  chartOption,
  crossTab,
  drawsChart,
  kpiOf,
  measureText,
  moneyColumns,
  rowFilter,
  type ReportDef,
  type ReportResult,
} from "./definition";

export interface ReportViewProps {
  app: AppDef;
  report: ReportDef;
  result: ReportResult;
  testId: string;
}

/** The records page behind a result row, or null. */
export function recordsLink(app: AppDef, report: ReportDef, result: ReportResult, row: unknown[]): string | null {
  const filter = rowFilter(app, report, result, row);
  if (filter === null) return null;
  return `/apps/${encodeURIComponent(app.key)}/${encodeURIComponent(report.form)}${filter ? `?filter=${encodeURIComponent(filter)}` : ""}`;
}

export default function ReportView({ app, report, result, testId }: ReportViewProps) {
  const { t, i18n } = useTranslation();
  const lang = i18n.language === "en" ? "en" : "zh";
  const navigate = useNavigate();
  const [showData, setShowData] = useState(false);
  const money = useMemo(() => moneyColumns(app, report), [app, report]);
  const type = report.chart?.type ?? "table";
  const option = useMemo(() => (drawsChart(type) ? chartOption(result, report.chart ?? { type }, money, lang) : null), [result, report.chart, type, money, lang]);

  if (result.rows.length === 0) return <Typography.Text type="secondary" data-testid={`${testId}-empty`}>{t("reports.noData")}</Typography.Text>;

  if (type === "kpi") {
    const kpi = kpiOf(result);
    const text = kpi.column ? measureText(kpi.value, kpi.column, money.has(kpi.column.key), lang) : "";
    return (
      <div data-testid={`${testId}-kpi`}>
        <Statistic title={kpi.column?.label} value={text} />
        {kpi.column && result.previous && (
          <Typography.Text type="secondary" data-testid={`${testId}-kpi-previous`}>
            {t("reports.previous")}: {measureText(kpi.previous, kpi.column, money.has(kpi.column.key), lang)}
            {kpi.change !== null && (
              <span style={{ color: kpi.change >= 0 ? "#3f8600" : "#cf1322", marginLeft: 8 }}>
                {kpi.change >= 0 ? "▲" : "▼"} {(Math.abs(kpi.change) * 100).toFixed(1)}%
              </span>
            )}
          </Typography.Text>
        )}
      </div>
    );
  }

  if (option) {
    // Bars of ungrouped series and ranking bars map back to result rows; grouped series do not.
    const grouped = [...report.rows, ...report.columns].length > 1 && ["bar", "stacked_bar", "line", "area"].includes(type);
    const onPick = (index: number) => {
      if (grouped) return;
      let row = result.rows[index];
      if (type === "ranking" || type === "funnel") {
        const first = result.columns.findIndex((c) => c.kind === "measure");
        const sorted = [...result.rows].sort((a, b) => Number(b[first] ?? 0) - Number(a[first] ?? 0));
        row = sorted[index];
      }
      const link = row ? recordsLink(app, report, result, row) : null;
      if (link) navigate(link);
    };
    // The numbers behind the chart, as a table on request (screen readers, exact values).
    return (
      <>
        <EChart option={option} testId={`${testId}-chart`} onPick={onPick} height={type === "ranking" ? Math.max(240, result.rows.length * 32 + 24) : 320} />
        <Button type="link" size="small" onClick={() => setShowData(!showData)} data-testid={`${testId}-show-data`} aria-expanded={showData}>
          {showData ? t("reports.hideData") : t("reports.showData")}
        </Button>
        {showData && flatTable()}
      </>
    );
  }

  if (type === "pivot") {
    const tab = crossTab(result, report.rows.length, lang);
    const columns = [
      ...tab.rowHeads.map((label, i) => ({
        key: `h${i}`,
        title: label,
        fixed: i === 0 ? ("left" as const) : undefined,
        render: (_: unknown, line: (typeof tab.lines)[number]) => {
          const link = i === tab.rowHeads.length - 1 && line.source ? recordsLink(app, report, result, line.source) : null;
          const text = line.heads[i];
          return line.total ? <strong>{text}</strong> : link ? <Link to={link}>{text}</Link> : text;
        },
      })),
      ...tab.columns.map((c, j) => ({
        key: c.key,
        title: c.label,
        align: "right" as const,
        render: (_: unknown, line: (typeof tab.lines)[number]) => {
          const text = measureText(line.values[j], result.columns[c.measure], money.has(result.columns[c.measure].key), lang);
          return line.total ? <strong>{text}</strong> : text;
        },
      })),
    ];
    return (
      <Table
        size="small"
        data-testid={`${testId}-pivot`}
        rowKey={(_, i) => String(i)}
        columns={columns}
        dataSource={tab.lines}
        pagination={tab.lines.length > 50 ? { pageSize: 50 } : false}
        scroll={{ x: "max-content" }}
      />
    );
  }

  return flatTable();

  function flatTable() {
    const columns = result.columns.map((column, i) => ({
      key: column.key,
      title: column.label,
      align: column.kind === "measure" ? ("right" as const) : undefined,
      render: (_: unknown, row: unknown[]) => {
        const text = anyText(row[i], column, money, lang);
        if (column.kind !== "dimension") return text;
        const link = recordsLink(app, report, result, row);
        return link ? <Link to={link}>{text}</Link> : text;
      },
    }));
    const body = result.rows;
    return (
      <Table
        size="small"
        data-testid={`${testId}-table`}
        rowKey={(row) => result.columns.map((c, i) => (c.kind === "dimension" ? cellLabel(row[i], lang) : "")).join("|")}
        columns={columns}
        dataSource={body}
        pagination={body.length > 50 ? { pageSize: 50 } : false}
        scroll={{ x: "max-content" }}
      />
    );
  }
}
