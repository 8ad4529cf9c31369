/**
 * 试运行 · Test run: pick a record of the rule's form (searching titles, as relation pickers do),
 * run the rule as drafted — unsaved — against it (`POST …/rules/{rule}/test`, the real actions
 * in a transaction the server rolls back), and show the condition's result and each action's
 * outcome or error, saying that nothing was written.
 */
import { CheckCircleFilled, CloseCircleFilled, MinusCircleFilled } from "@ant-design/icons";
import { Alert, Button, Form, List, Modal, Tag, Typography } from "antd";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { ApiError } from "../api/client";
import type { AppDef, Issue } from "../api/types";
import RelationPicker from "../components/RelationPicker";
import { rulesApi, type ActionOutcome, type TestResult } from "./api";
import { cleanRule, outcomeText, type RuleDef } from "./definition";

export function OutcomeList({ app, actions, testId }: { app: AppDef; actions: ActionOutcome[]; testId: string }) {
  const { t, i18n } = useTranslation();
  const said = (outcome: unknown) => outcomeText(outcome, app, i18n.language, t);
  return (
    <List
      size="small"
      dataSource={actions}
      renderItem={(a, i) => {
        const failed = !!a.error || a.state === "failed";
        const skipped = a.state === "skipped";
        return (
          <List.Item data-testid={`${testId}-${i}`} data-state={failed ? "failed" : skipped ? "skipped" : "succeeded"} style={{ display: "block" }}>
            {failed ? <CloseCircleFilled style={{ color: "#ff4d4f" }} /> : skipped ? <MinusCircleFilled style={{ color: "#bfbfbf" }} /> : <CheckCircleFilled style={{ color: "#52c41a" }} />}{" "}
            <Typography.Text strong>
              {i + 1}. {t(`rules.actionTypes.${a.type}`, { defaultValue: a.type || "?" })}
            </Typography.Text>{" "}
            {a.ms !== null && <Typography.Text type="secondary">{t("rules.durationMs", { ms: a.ms })}</Typography.Text>}
            {a.error ? (
              <div>
                <Typography.Text type="danger">{a.error}</Typography.Text>
              </div>
            ) : said(a.outcome) ? (
              <div style={{ overflowWrap: "anywhere" }} data-testid={`${testId}-${i}-outcome`}>
                <Typography.Text>{said(a.outcome)}</Typography.Text>
              </div>
            ) : null}
          </List.Item>
        );
      }}
    />
  );
}

export function ConditionTag({ condition, hasCondition }: { condition: boolean | null; hasCondition: boolean }) {
  const { t } = useTranslation();
  if (condition === null) return <Tag>{hasCondition ? "—" : t("rules.conditionNone")}</Tag>;
  return <Tag color={condition ? "green" : "default"}>{condition ? t("rules.conditionTrue") : t("rules.conditionFalse")}</Tag>;
}

interface Props {
  app: AppDef;
  rule: RuleDef;
  onClose(): void;
  /** The server's issues about the drafted rule (422), to show at their controls too. */
  onIssues(issues: Issue[]): void;
}

export default function TestRunModal({ app, rule, onClose, onIssues }: Props) {
  const { t } = useTranslation();
  const [record, setRecord] = useState<{ _id: number; title?: string | null } | null>(null);
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<TestResult | null>(null);
  const [error, setError] = useState<string | null>(null);
  const run = async () => {
    if (!record) return;
    setBusy(true);
    setError(null);
    setResult(null);
    try {
      setResult(await rulesApi.test(app.key, rule.key, record._id, cleanRule(rule)));
    } catch (e) {
      const issues = e instanceof ApiError ? e.issues.map((i) => i.message) : [];
      if (e instanceof ApiError && e.status === 422 && e.issues.some((i) => i.path.startsWith("rule"))) onIssues(e.issues.filter((i) => i.path.startsWith("rule")));
      setError(issues.length ? issues.join("；") : e instanceof Error ? e.message : String(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <Modal open title={t("rules.testTitle")} onCancel={onClose} footer={null} width={640} data-testid="rule-test-modal">
      <Typography.Paragraph type="secondary">{t("rules.testIntro")}</Typography.Paragraph>
      {!rule.form ? (
        <Alert type="info" title={t("rules.testNeedsForm")} />
      ) : (
        <Form layout="vertical">
          <Form.Item label={t("rules.testRecord")}>
            <RelationPicker
              app={app}
              field={{ key: "rule-test-record", type: "relation", target: rule.form }}
              value={record}
              onChange={(v) => setRecord(Array.isArray(v) ? (v[0] ?? null) : v)}
            />
          </Form.Item>
          <Button type="primary" disabled={!record} loading={busy} onClick={run} data-testid="rule-test-run">
            {t("rules.testRun")}
          </Button>
        </Form>
      )}
      {error && <Alert style={{ marginTop: 12 }} type="error" showIcon title={t("rules.testFailed", { message: error })} data-testid="rule-test-error" />}
      {result && (
        <div style={{ marginTop: 12 }} data-testid="rule-test-result">
          <div>
            {t("rules.conditionResult")}: <ConditionTag condition={result.condition} hasCondition={!!rule.when} />
          </div>
          {result.condition === false && (
            <Typography.Paragraph type="secondary" data-testid="rule-test-condition-false">
              {t("rules.conditionSkipped")} {result.actions.length > 0 ? t("rules.conditionWouldRun") : ""}
            </Typography.Paragraph>
          )}
          {result.error && <Alert type="error" title={result.error} style={{ margin: "8px 0" }} />}
          <OutcomeList app={app} actions={result.actions} testId="rule-test-action" />
          <Alert type="success" showIcon title={t("rules.testNothingWritten")} data-testid="rule-test-nothing-written" />
        </div>
      )}
    </Modal>
  );
}
