/**
 * 运行记录 · Run log of one rule (`GET /apps/{app}/rules/{rule}/runs?state=&limit=&offset=`):
 * a table of runs — time, trigger event with a link to its record, condition result, state,
 * duration — that expands to each action's outcome or error, with 重试 on failed runs (`POST
 * …/runs/{run}/retry`), a state filter and pages. On a phone the condition and duration columns
 * give way so the page never scrolls sideways.
 */
import { ArrowLeftOutlined, ReloadOutlined } from "@ant-design/icons";
import { keepPreviousData, useQuery, useQueryClient } from "@tanstack/react-query";
import { Alert, App, Button, Result, Select, Space, Table, Typography } from "antd";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { Link, useParams } from "react-router";
import { useAuth } from "../auth/AuthContext";
import { labelText } from "../forms/labels";
import { rulesApi, type RuleRun } from "../rules/api";
import { rulesOf } from "../rules/definition";
import { runTime, RunStateTag } from "../rules/RunStateTag";
import { ConditionTag, OutcomeList } from "../rules/TestRunModal";
import { useApp } from "./appContext";

const PAGE_SIZE = 20;
const STATES = ["succeeded", "failed", "queued", "running", "skipped"] as const;

export default function RuleRunsPage() {
  const { t, i18n } = useTranslation();
  const lang = i18n.language === "en" ? "en" : "zh";
  const { user } = useAuth();
  const { app } = useApp();
  const { rule: key } = useParams();
  const { message } = App.useApp();
  const client = useQueryClient();
  const [state, setState] = useState<string | undefined>();
  const [page, setPage] = useState(1);
  const [retrying, setRetrying] = useState<number | null>(null);
  const rule = rulesOf(app).find((r) => r.key === key);
  const runs = useQuery({
    queryKey: ["rule-runs", app.key, key, state, page],
    queryFn: () => rulesApi.runs(app.key, key!, state, page, PAGE_SIZE),
    enabled: !!rule && !!user?.is_admin,
    placeholderData: keepPreviousData,
    retry: false,
  });
  if (!user?.is_admin) return <Result status="403" title={t("errors.forbidden")} />;
  if (!rule) return <Result status="404" title={t("errors.notFound")} />;

  const retry = async (run: RuleRun) => {
    setRetrying(run.id);
    try {
      await rulesApi.retry(app.key, rule.key, run.id);
      message.success(t("rules.retried"));
      await client.invalidateQueries({ queryKey: ["rule-runs", app.key, key] });
    } catch (error) {
      message.error(error instanceof Error ? error.message : t("errors.generic"));
    } finally {
      setRetrying(null);
    }
  };
  const eventCell = (run: RuleRun) => {
    const form = run.event.form ?? rule.form;
    const id = run.record_id;
    return (
      <Space size={4} wrap>
        <span>{t(`rules.events.${run.event.kind}`, { defaultValue: run.event.kind || "—" })}</span>
        {id !== null && form && (
          <Link to={`/apps/${app.key}/${form}?open=${id}`} data-testid="rule-run-record">
            {t("rules.record", { id })}
          </Link>
        )}
      </Space>
    );
  };

  return (
    <>
      <Space style={{ display: "flex", justifyContent: "space-between", marginBottom: 8 }} wrap>
        <Space wrap align="center">
          <Link to={`/apps/${app.key}/_rules`} data-testid="rule-runs-back">
            <ArrowLeftOutlined /> {t("rules.runsBack")}
          </Link>
          <Typography.Title level={3} style={{ margin: 0, overflowWrap: "anywhere" }} data-testid="rule-runs-title">
            {t("rules.runsTitle", { name: labelText(rule.name, lang, rule.key) })}
          </Typography.Title>
        </Space>
        <Space wrap>
          <Select
            style={{ width: 140 }}
            allowClear
            placeholder={t("rules.allStates")}
            value={state}
            options={STATES.map((s) => ({ value: s, label: t(`rules.states.${s}`) }))}
            onChange={(s?: string) => {
              setState(s);
              setPage(1);
            }}
            data-testid="rule-runs-state"
          />
          <Button icon={<ReloadOutlined />} onClick={() => void runs.refetch()} aria-label="refresh" data-testid="rule-runs-refresh" />
        </Space>
      </Space>
      {runs.isError && <Alert type="warning" showIcon style={{ marginBottom: 12 }} title={t("rules.runsUnavailable", { message: runs.error.message })} data-testid="rule-runs-error" />}
      <Table<RuleRun>
        size="small"
        rowKey="id"
        loading={runs.isFetching}
        dataSource={runs.data?.items ?? []}
        locale={{ emptyText: t("rules.noRuns") }}
        pagination={{ current: page, pageSize: PAGE_SIZE, total: runs.data?.total ?? 0, onChange: setPage, showSizeChanger: false, size: "small" }}
        expandable={{
          expandedRowRender: (run) => (
            <div data-testid={`rule-run-detail-${run.id}`}>
              {run.error && (
                <Typography.Paragraph type="danger" style={{ overflowWrap: "anywhere" }}>
                  {t("rules.runError")}: {run.error}
                </Typography.Paragraph>
              )}
              <OutcomeList app={app} actions={run.actions} testId={`rule-run-${run.id}-action`} />
            </div>
          ),
          rowExpandable: (run) => run.actions.length > 0 || !!run.error,
        }}
        columns={[
          { key: "at", title: t("rules.runTime"), render: (_, run) => <span style={{ whiteSpace: "nowrap" }}>{runTime(run.at)}</span> },
          { key: "event", title: t("rules.runEvent"), render: (_, run) => eventCell(run) },
          { key: "condition", title: t("rules.runCondition"), responsive: ["md"], render: (_, run) => <ConditionTag condition={run.condition} hasCondition={!!rule.when} /> },
          { key: "state", title: t("rules.runState"), render: (_, run) => <RunStateTag run={run} /> },
          { key: "duration", title: t("rules.runDuration"), responsive: ["md"], render: (_, run) => (run.duration_ms === null ? "—" : t("rules.durationMs", { ms: run.duration_ms })) },
          {
            key: "retry",
            title: "",
            render: (_, run) =>
              run.state === "failed" ? (
                <Button size="small" loading={retrying === run.id} onClick={() => retry(run)} data-testid={`rule-run-retry-${run.id}`}>
                  {t("rules.retry")}
                </Button>
              ) : null,
          },
        ]}
        onRow={(run) => ({ "data-testid": `rule-run-${run.id}` }) as React.HTMLAttributes<HTMLElement>}
      />
    </>
  );
}
