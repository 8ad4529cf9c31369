/**
 * The report designer (builders only): pick the source form; drag fields from the field list (or
 * click 行 / 列 / 指标 beside one — phones and keyboards) into rows, columns and measures; per
 * dimension a date bucket, per measure the aggregation, an optional measure filter, formula
 * measures over other measures' keys; the report filter (formula editor, CURRENT_USER()); sort,
 * top N and the chart with its settings. The preview runs the shape through `POST …/query` as it
 * changes (debounced); 422 `pivot_too_large` and 403 `field_forbidden` show as messages in the
 * preview. Saving is `PUT …/reports/{report}`; each server issue is shown at its control.
 */
import { CloseOutlined, FunctionOutlined, SaveOutlined } from "@ant-design/icons";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { Alert, App, Button, Card, Checkbox, Col, Empty, Form, Grid, Input, InputNumber, Result, Row, Select, Space, Spin, Tag, Typography } from "antd";
import { useEffect, useMemo, useState, type DragEvent, type ReactNode } from "react";
import { useTranslation } from "react-i18next";
import { Link, useNavigate, useParams } from "react-router";
import { ApiError } from "../api/client";
import { UnsavedGuard } from "../components/UnsavedGuard";
import FormulaEditor from "../designer/props/FormulaEditor";
import { labelText } from "../forms/labels";
import { useIsBuilder } from "../reports/access";
import { previewProblem, reportsApi } from "../reports/api";
import {
  addFormula,
  AGGS,
  BUCKETS,
  blankReport,
  CHART_TYPES,
  designerState,
  dropField,
  fieldChoices,
  issueMap,
  issuesAt,
  namesOf,
  NEW_REPORT,
  newReportKey,
  patchAt,
  removeAt,
  reportsOf,
  shapeOf,
  sortChoices,
  type Agg,
  type Bucket,
  type FieldChoice,
  type ReportDef,
  type Zone,
} from "../reports/definition";
import ReportView from "../reports/ReportView";
import { contextOf } from "../rules/MappingEditor";
import { useApp } from "./appContext";

const PREVIEW_DELAY_MS = 500;
const DRAG_TYPE = "application/x-jimu-field";

/** The value after `delay` ms without change. */
function useDebounced<T>(value: T, delay: number): T {
  const [settled, setSettled] = useState(value);
  useEffect(() => {
    const timer = setTimeout(() => setSettled(value), delay);
    return () => clearTimeout(timer);
  }, [value, delay]);
  return settled;
}

const Problems = ({ messages, testId }: { messages: string[]; testId: string }) =>
  messages.length ? (
    <Typography.Text type="danger" style={{ display: "block", fontSize: 12 }} data-testid={testId}>
      {messages.join("；")}
    </Typography.Text>
  ) : null;

export default function ReportDesignerPage() {
  const { report: key } = useParams();
  const { t, i18n } = useTranslation();
  const lang = i18n.language === "en" ? "en" : "zh";
  const { app } = useApp();
  const { message } = App.useApp();
  const client = useQueryClient();
  const navigate = useNavigate();
  const screens = Grid.useBreakpoint();
  const { builder, pending } = useIsBuilder(app);
  const isNew = key === NEW_REPORT;
  const existing = reportsOf(app).find((r) => r.key === key);
  const [report, setReport] = useState<ReportDef>(() => (existing ? designerState(existing) : blankReport(newReportKey(app), "")));
  const [dirty, setDirty] = useState(false);
  const [saving, setSaving] = useState(false);
  const [issues, setIssues] = useState<Map<string, string[]>>(new Map());

  const form = app.forms.find((f) => f.key === report.form);
  const choices = useMemo(() => fieldChoices(app, form, lang), [app, form, lang]);
  const byPath = useMemo(() => new Map(choices.map((c) => [c.path, c])), [choices]);
  const context = useMemo(() => contextOf(app, form), [app, form]);
  const shape = useMemo(() => shapeOf(report), [report]);
  const settled = useDebounced(shape, PREVIEW_DELAY_MS);
  const ready = !!settled.form && settled.measures.length + settled.rows.length + settled.columns.length > 0;
  const preview = useQuery({
    queryKey: ["report-preview", app.key, JSON.stringify(settled)],
    queryFn: () => reportsApi.query(app.key, settled),
    enabled: ready && builder,
    retry: false,
    staleTime: 30_000,
  });

  if (pending) return <Spin />;
  if (!builder) return <Result status="403" title={t("errors.forbidden")} />;
  if (!isNew && !existing) return <Result status="404" title={t("reports.notFound")} />;

  const change = (next: ReportDef) => {
    setReport(next);
    setDirty(true);
  };
  const at = (path: string) => issuesAt(issues, path);
  const drop = (zone: Zone, path: string) => {
    const field = byPath.get(path);
    if (field) change(dropField(report, zone, field));
  };
  const onDrop = (zone: Zone) => (event: DragEvent) => {
    event.preventDefault();
    drop(zone, event.dataTransfer.getData(DRAG_TYPE));
  };
  const fieldName = (path: string | null | undefined) => (path ? (byPath.get(path)?.label ?? path) : "");

  const save = async () => {
    setSaving(true);
    try {
      const saved = await reportsApi.save(app, shape);
      client.setQueryData(["app", app.key], saved);
      setIssues(new Map());
      setDirty(false);
      message.success(t("reports.saved"));
      if (isNew) setTimeout(() => navigate(`/apps/${app.key}/_reports/${shape.key}/edit`, { replace: true }), 0);
    } catch (error) {
      if (error instanceof ApiError && error.status === 409) {
        message.warning(t("reports.conflict"));
        await client.invalidateQueries({ queryKey: ["app", app.key] });
      } else if (error instanceof ApiError && error.issues.length) {
        setIssues(issueMap(error.issues));
        message.error(t("reports.saveFailed", { message: error.issues.map((i) => i.message).join("；") }));
      } else {
        message.error(t("reports.saveFailed", { message: error instanceof Error ? error.message : String(error) }));
      }
    } finally {
      setSaving(false);
    }
  };

  const fieldItem = (field: FieldChoice) => (
    <div
      key={field.path}
      draggable
      onDragStart={(event) => event.dataTransfer.setData(DRAG_TYPE, field.path)}
      data-testid={`report-field-${field.path}`}
      style={{ display: "flex", alignItems: "center", gap: 4, padding: "2px 4px", borderRadius: 4, cursor: "grab", flexWrap: "wrap" }}
    >
      <span style={{ flex: "1 1 80px", minWidth: 0, overflowWrap: "anywhere" }}>{field.label}</span>
      {field.groupable && (
        <Button size="small" type="text" onClick={() => drop("rows", field.path)} data-testid={`report-add-rows-${field.path}`} aria-label={`${t("reports.addRow")} ${field.label}`}>
          {t("reports.addRow")}
        </Button>
      )}
      {field.groupable && (
        <Button size="small" type="text" onClick={() => drop("columns", field.path)} data-testid={`report-add-columns-${field.path}`} aria-label={`${t("reports.addColumn")} ${field.label}`}>
          {t("reports.addColumn")}
        </Button>
      )}
      <Button size="small" type="text" onClick={() => drop("measures", field.path)} data-testid={`report-add-measures-${field.path}`} aria-label={`${t("reports.addMeasure")} ${field.label}`}>
        {t("reports.addMeasure")}
      </Button>
    </div>
  );

  const zone = (name: Zone, children: ReactNode, empty: boolean) => (
    <Card
      size="small"
      title={t(`reports.${name}`)}
      onDragOver={(event) => event.preventDefault()}
      onDrop={onDrop(name)}
      data-testid={`report-zone-${name}`}
      style={{ marginBottom: 8 }}
      extra={
        name === "measures" ? (
          <Button size="small" icon={<FunctionOutlined />} onClick={() => change(addFormula(report))} data-testid="report-add-formula">
            {t("reports.addFormula")}
          </Button>
        ) : null
      }
    >
      {empty ? <Typography.Text type="secondary">{t("reports.dropHere")}</Typography.Text> : children}
      <Problems messages={issues.get(name) ?? []} testId={`report-issues-${name}`} />
    </Card>
  );

  const dimensions = (name: "rows" | "columns") =>
    zone(
      name,
      report[name].map((dim, i) => (
        <div key={`${dim.field}-${i}`} style={{ marginBottom: 6 }} data-testid={`report-${name}-${i}`}>
          <Space wrap size={4}>
            <Tag color="geekblue">{fieldName(dim.field)}</Tag>
            {byPath.get(dim.field)?.dated && (
              <Select
                size="small"
                style={{ width: 100 }}
                value={dim.bucket ?? ""}
                onChange={(bucket: Bucket | "") => change({ ...report, [name]: patchAt(report[name], i, { bucket: bucket || null }) })}
                options={[{ value: "", label: t("reports.noBucket") }, ...BUCKETS.map((b) => ({ value: b, label: t(`reports.buckets.${b}`) }))]}
                data-testid={`report-${name}-${i}-bucket`}
                aria-label={t("reports.bucket")}
              />
            )}
            <Button size="small" type="text" icon={<CloseOutlined />} onClick={() => change(removeAt(report, name, i))} aria-label={t("reports.remove")} data-testid={`report-${name}-${i}-remove`} />
          </Space>
          <Problems messages={at(`${name}[${i}]`)} testId={`report-issues-${name}-${i}`} />
        </div>
      )),
      report[name].length === 0,
    );

  const measures = zone(
    "measures",
    report.measures.map((m, i) => {
      const numeric = byPath.get(m.field ?? "")?.numeric ?? false;
      const aggs: Agg[] = m.agg === "expr" ? ["expr"] : AGGS.filter((a) => numeric || !["sum", "avg"].includes(a));
      return (
        <div key={m.key} style={{ marginBottom: 10, borderBottom: "1px dashed #eee", paddingBottom: 6 }} data-testid={`report-measures-${i}`}>
          <Space wrap size={4}>
            <Tag color="green">{m.agg === "expr" ? m.key : fieldName(m.field) || t("reports.aggs.count")}</Tag>
            {m.agg !== "expr" && (
              <Select
                size="small"
                style={{ width: 110 }}
                value={m.agg}
                onChange={(agg: Agg) => change({ ...report, measures: patchAt(report.measures, i, { agg }) })}
                options={aggs.map((a) => ({ value: a, label: t(`reports.aggs.${a}`) }))}
                data-testid={`report-measures-${i}-agg`}
                aria-label={t("reports.agg")}
              />
            )}
            <Input
              size="small"
              style={{ width: 110 }}
              value={m.key}
              onChange={(e) => change({ ...report, measures: patchAt(report.measures, i, { key: e.target.value }) })}
              aria-label={t("reports.key")}
              data-testid={`report-measures-${i}-key`}
            />
            <Button size="small" type="text" icon={<CloseOutlined />} onClick={() => change(removeAt(report, "measures", i))} aria-label={t("reports.remove")} data-testid={`report-measures-${i}-remove`} />
          </Space>
          {m.agg === "expr" ? (
            <Input
              size="small"
              style={{ marginTop: 4 }}
              placeholder={t("reports.formula")}
              value={m.expr ?? ""}
              onChange={(e) => change({ ...report, measures: patchAt(report.measures, i, { expr: e.target.value }) })}
              data-testid={`report-measures-${i}-expr`}
            />
          ) : (
            <div style={{ marginTop: 4 }}>
              <Typography.Text type="secondary" style={{ fontSize: 12 }}>
                {t("reports.measureFilter")}
              </Typography.Text>
              <FormulaEditor
                value={m.filter ?? ""}
                onChange={(filter) => change({ ...report, measures: patchAt(report.measures, i, { filter }) })}
                testId={`report-measures-${i}-filter`}
                context={context}
                rows={1}
              />
            </div>
          )}
          <Problems messages={at(`measures[${i}]`)} testId={`report-issues-measures-${i}`} />
        </div>
      );
    }),
    report.measures.length === 0,
  );

  const chartType = report.chart?.type ?? "table";
  const settings = report.chart?.settings ?? {};
  const setSettings = (patch: Record<string, unknown>) => {
    const next: Record<string, unknown> = { ...settings, ...patch };
    for (const [k, v] of Object.entries(next)) if (v === undefined || v === null || v === "") delete next[k];
    change({ ...report, chart: { type: chartType, settings: Object.keys(next).length ? next : null } });
  };
  const sortKey = report.sort[0]?.key ?? "";
  const dateFields = choices.filter((c) => c.dated);

  const preview_ = !ready ? (
    <Empty description={t("reports.previewEmpty")} />
  ) : preview.isPending || preview.isFetching ? (
    <Spin tip={t("reports.previewing")}>
      <div style={{ minHeight: 80 }} />
    </Spin>
  ) : preview.isError ? (
    (() => {
      const problem = previewProblem(preview.error);
      const title =
        problem.kind === "too_large"
          ? t("reports.tooLarge", { message: problem.message })
          : problem.kind === "forbidden"
            ? t("reports.forbidden", { message: problem.message })
            : problem.issues.length
              ? problem.issues.map((i) => `${i.path}: ${i.message}`).join("；")
              : problem.message;
      return <Alert type={problem.kind === "other" ? "error" : "warning"} title={title} data-testid="report-preview-problem" />;
    })()
  ) : (
    <ReportView app={app} report={settled} result={preview.data!} testId="report-preview" />
  );

  return (
    <>
      <UnsavedGuard dirty={dirty} />
      {!screens.md && <Alert type="info" showIcon style={{ marginBottom: 12 }} title={t("reports.desktopOnly")} data-testid="report-desktop-only" />}
      <Space style={{ display: "flex", justifyContent: "space-between", marginBottom: 8 }} wrap>
        <Typography.Title level={3} style={{ margin: 0 }}>
          <Link to={`/apps/${app.key}/_reports`}>{t("reports.manage")}</Link> / {labelText(report.name, lang, isNew ? t("reports.newTitle") : report.key)}
        </Typography.Title>
        <Button type="primary" icon={<SaveOutlined />} loading={saving} disabled={!report.form} onClick={save} data-testid="report-save">
          {t("reports.save")}
        </Button>
      </Space>
      <Card size="small" style={{ marginBottom: 12 }}>
        <Form layout="vertical" component="div">
          <Row gutter={12}>
            <Col xs={24} md={6}>
              <Form.Item label={t("reports.nameZh")} validateStatus={at("name").length ? "error" : undefined} help={at("name").join("；") || undefined}>
                <Input value={namesOf(report.name).zh} onChange={(e) => change({ ...report, name: { ...namesOf(report.name), zh: e.target.value } })} data-testid="report-name-zh" />
              </Form.Item>
            </Col>
            <Col xs={24} md={6}>
              <Form.Item label={t("reports.nameEn")}>
                <Input value={namesOf(report.name).en} onChange={(e) => change({ ...report, name: { ...namesOf(report.name), en: e.target.value } })} data-testid="report-name-en" />
              </Form.Item>
            </Col>
            <Col xs={24} md={5}>
              <Form.Item label={t("reports.key")} validateStatus={at("key").length ? "error" : undefined} help={at("key").join("；") || undefined}>
                <Input value={report.key} disabled={!isNew} onChange={(e) => change({ ...report, key: e.target.value.trim() })} data-testid="report-key" />
              </Form.Item>
            </Col>
            <Col xs={24} md={7}>
              <Form.Item label={t("reports.form")} validateStatus={at("form").length ? "error" : undefined} help={at("form").join("；") || undefined}>
                <Select
                  value={report.form || undefined}
                  placeholder={t("reports.pickForm")}
                  onChange={(formKey: string) => change({ ...blankReport(report.key, formKey), name: report.name, chart: report.chart })}
                  options={app.forms.map((f) => ({ value: f.key, label: labelText(f.name, lang, f.key) }))}
                  data-testid="report-form"
                />
              </Form.Item>
            </Col>
          </Row>
        </Form>
      </Card>
      {report.form && (
        <Row gutter={12}>
          <Col xs={24} md={6}>
            <Card size="small" title={t("reports.fields")} style={{ marginBottom: 12 }} styles={{ body: { maxHeight: 560, overflowY: "auto" } }}>
              <Typography.Paragraph type="secondary" style={{ fontSize: 12 }}>
                {t("reports.fieldsHelp")}
              </Typography.Paragraph>
              {choices.map(fieldItem)}
            </Card>
          </Col>
          <Col xs={24} md={8}>
            {dimensions("rows")}
            {dimensions("columns")}
            {measures}
            <Card size="small" style={{ marginBottom: 8 }}>
              <Form layout="vertical" component="div">
                <Form.Item label={t("reports.filter")} extra={t("reports.filterHelp")} validateStatus={at("filter").length ? "error" : undefined} help={at("filter").join("；") || undefined}>
                  <FormulaEditor value={report.filter ?? ""} onChange={(filter) => change({ ...report, filter })} testId="report-filter" context={context} />
                </Form.Item>
                <Space wrap align="end">
                  <Form.Item label={t("reports.sort")} validateStatus={at("sort").length ? "error" : undefined} help={at("sort").join("；") || undefined}>
                    <Select
                      style={{ width: 150 }}
                      value={sortKey}
                      onChange={(k: string) => change({ ...report, sort: k ? [{ key: k, desc: report.sort[0]?.desc ?? true }] : [] })}
                      options={[{ value: "", label: t("reports.sortNone") }, ...sortChoices(report).map((k) => ({ value: k, label: report.measures.some((m) => m.key === k) ? k : fieldName(k) }))]}
                      data-testid="report-sort"
                    />
                  </Form.Item>
                  <Form.Item>
                    <Checkbox
                      checked={!!report.sort[0]?.desc}
                      disabled={!sortKey}
                      onChange={(e) => change({ ...report, sort: [{ key: sortKey, desc: e.target.checked }] })}
                      data-testid="report-sort-desc"
                    >
                      {t("reports.desc")}
                    </Checkbox>
                  </Form.Item>
                  <Form.Item label={t("reports.limit")} validateStatus={at("limit").length ? "error" : undefined} help={at("limit").join("；") || undefined}>
                    <InputNumber min={1} max={10000} value={report.limit ?? null} onChange={(limit) => change({ ...report, limit: limit ?? null })} data-testid="report-limit" />
                  </Form.Item>
                </Space>
                <Form.Item label={t("reports.chart")} validateStatus={at("chart").length ? "error" : undefined} help={at("chart").join("；") || undefined}>
                  <Select
                    value={chartType}
                    virtual={false}
                    listHeight={400}
                    onChange={(type: string) => change({ ...report, chart: { type } })}
                    options={CHART_TYPES.map((c) => ({ value: c, label: t(`reports.charts.${c}`) }))}
                    data-testid="report-chart"
                  />
                </Form.Item>
                {chartType === "pivot" && (
                  <Space>
                    <Checkbox checked={!!settings.subtotals} onChange={(e) => setSettings({ subtotals: e.target.checked || null })} data-testid="report-subtotals">
                      {t("reports.subtotals")}
                    </Checkbox>
                    <Checkbox checked={!!settings.totals} onChange={(e) => setSettings({ totals: e.target.checked || null })} data-testid="report-totals">
                      {t("reports.totals")}
                    </Checkbox>
                  </Space>
                )}
                {chartType === "dual_axis" && (
                  <Form.Item label={t("reports.right")}>
                    <Select
                      allowClear
                      value={(settings.right as string | undefined) ?? undefined}
                      onChange={(right?: string) => setSettings({ right })}
                      options={report.measures.map((m) => ({ value: m.key, label: m.key }))}
                      data-testid="report-right"
                    />
                  </Form.Item>
                )}
                {chartType === "kpi" && (
                  <Space wrap>
                    <Form.Item label={t("reports.kpiDate")}>
                      <Select
                        allowClear
                        style={{ width: 160 }}
                        value={(settings.date as string | undefined) ?? undefined}
                        onChange={(date?: string) => setSettings({ date, period: date ? (settings.period ?? "month") : null })}
                        options={dateFields.map((c) => ({ value: c.path, label: c.label }))}
                        data-testid="report-kpi-date"
                      />
                    </Form.Item>
                    <Form.Item label={t("reports.kpiPeriod")}>
                      <Select
                        style={{ width: 100 }}
                        disabled={!settings.date}
                        value={(settings.period as string | undefined) ?? undefined}
                        onChange={(period: string) => setSettings({ period })}
                        options={BUCKETS.map((b) => ({ value: b, label: t(`reports.buckets.${b}`) }))}
                        data-testid="report-kpi-period"
                      />
                    </Form.Item>
                  </Space>
                )}
              </Form>
            </Card>
          </Col>
          <Col xs={24} md={10}>
            <Card size="small" title={t("reports.preview")} style={{ minWidth: 0, overflow: "hidden" }} data-testid="report-preview">
              {preview_}
            </Card>
          </Col>
        </Row>
      )}
    </>
  );
}
