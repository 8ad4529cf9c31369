/**
 * 自动化规则 · Automation: the app's rules, each with its name, form, trigger in words ("商机 的
 * 阶段 改变时"), sync/async, an enable switch that takes effect at once (`POST
 * …/rules/{rule}/enabled`, no publish), the last run's state and time (`GET …/rules/state`),
 * links to the designer and the run log, and delete (publishes the list without it). 新建规则
 * opens the designer on a draft. Laid out to wrap on a 375 px phone.
 */
import { DeleteOutlined, HistoryOutlined, PlusOutlined, ThunderboltOutlined } from "@ant-design/icons";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { App, Button, Card, Empty, List, Popconfirm, Result, Space, Switch, Tag, Typography } from "antd";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { Link, useNavigate } from "react-router";
import { ApiError } from "../api/client";
import { useAuth } from "../auth/AuthContext";
import { labelText } from "../forms/labels";
import { publishRules, rulesApi } from "../rules/api";
import { NEW_RULE, rulesOf, triggerText } from "../rules/definition";
import { runTime, RunStateTag } from "../rules/RunStateTag";
import { useApp } from "./appContext";

export default function RulesPage() {
  const { t, i18n } = useTranslation();
  const lang = i18n.language === "en" ? "en" : "zh";
  const { user } = useAuth();
  const { app } = useApp();
  const { message } = App.useApp();
  const client = useQueryClient();
  const navigate = useNavigate();
  const [switching, setSwitching] = useState<string | null>(null);
  const state = useQuery({ queryKey: ["rule-state", app.key, app._revision], queryFn: () => rulesApi.state(app.key), retry: false, enabled: !!user?.is_admin });
  if (!user?.is_admin) return <Result status="403" title={t("errors.forbidden")} />;
  const rules = rulesOf(app);
  const formName = (key?: string) => (key ? labelText(app.forms.find((f) => f.key === key)?.name, lang, key) : "—");

  const toggle = async (key: string, enabled: boolean) => {
    setSwitching(key);
    try {
      await rulesApi.setEnabled(app.key, key, enabled);
      await client.invalidateQueries({ queryKey: ["rule-state", app.key] });
      message.success(enabled ? t("rules.enabledOn") : t("rules.enabledOff"));
    } catch (error) {
      message.error(t("rules.switchFailed", { message: error instanceof Error ? error.message : String(error) }));
    } finally {
      setSwitching(null);
    }
  };
  const remove = async (key: string) => {
    try {
      const saved = await publishRules(app, rules.filter((r) => r.key !== key));
      client.setQueryData(["app", app.key], saved);
      message.success(t("rules.deleted"));
    } catch (error) {
      if (error instanceof ApiError && error.status === 409) {
        message.warning(t("rules.conflict"));
        await client.invalidateQueries({ queryKey: ["app", app.key] });
      } else {
        const issues = error instanceof ApiError ? error.issues.map((i) => i.message) : [];
        message.error(issues.length ? issues.join("；") : error instanceof Error ? error.message : t("errors.generic"));
      }
    }
  };

  return (
    <>
      <Space style={{ display: "flex", justifyContent: "space-between", marginBottom: 8 }} wrap>
        <Typography.Title level={3} style={{ margin: 0 }}>
          <ThunderboltOutlined /> {t("rules.title")}
        </Typography.Title>
        <Button type="primary" icon={<PlusOutlined />} onClick={() => navigate(`/apps/${app.key}/_rules/${NEW_RULE}`)} data-testid="rule-create">
          {t("rules.create")}
        </Button>
      </Space>
      <Typography.Paragraph type="secondary">{t("rules.intro")}</Typography.Paragraph>
      {state.isError && rules.length > 0 && <Typography.Paragraph type="warning">{t("rules.stateUnavailable")}</Typography.Paragraph>}
      <Card size="small">
        {rules.length === 0 ? (
          <Empty description={t("rules.empty")} />
        ) : (
          <List
            dataSource={rules}
            rowKey="key"
            renderItem={(rule) => {
              const live = state.data?.get(rule.key);
              const enabled = live ? live.enabled : rule.enabled !== false;
              const last = live?.last_run ?? null;
              const name = labelText(rule.name, lang, rule.key) || t("rules.unnamed");
              return (
                <List.Item data-testid={`rule-row-${rule.key}`} style={{ flexWrap: "wrap", gap: 8 }}>
                  <div style={{ flex: "1 1 260px", minWidth: 0 }}>
                    <Space wrap size={6}>
                      <Link to={`/apps/${app.key}/_rules/${rule.key}`} style={{ fontWeight: 600 }} data-testid={`rule-name-${rule.key}`}>
                        {name}
                      </Link>
                      <Tag color="blue">{formName(rule.form)}</Tag>
                      <Tag data-testid={`rule-mode-${rule.key}`}>{t(`rules.modes.${rule.mode ?? "async"}`)}</Tag>
                    </Space>
                    <div style={{ overflowWrap: "anywhere" }} data-testid={`rule-words-${rule.key}`}>
                      {triggerText(rule, app, lang, t)}
                    </div>
                    <Typography.Text type="secondary" style={{ fontSize: 12 }} data-testid={`rule-last-${rule.key}`}>
                      {t("rules.lastRun")}:{" "}
                      {last ? (
                        <>
                          <RunStateTag run={last} /> {runTime(last.at)}
                        </>
                      ) : (
                        t("rules.never")
                      )}
                    </Typography.Text>
                  </div>
                  <Space wrap size={4}>
                    <Switch
                      checked={enabled}
                      loading={switching === rule.key}
                      onChange={(on) => toggle(rule.key, on)}
                      checkedChildren={t("rules.enabledOn")}
                      unCheckedChildren={t("rules.enabledOff")}
                      data-testid={`rule-enabled-${rule.key}`}
                    />
                    <Link to={`/apps/${app.key}/_rules/${rule.key}`} data-testid={`rule-edit-${rule.key}`}>
                      {t("rules.edit")}
                    </Link>
                    <Link to={`/apps/${app.key}/_rules/${rule.key}/runs`} data-testid={`rule-runs-${rule.key}`}>
                      <HistoryOutlined /> {t("rules.runs")}
                    </Link>
                    <Popconfirm title={t("rules.confirmDelete", { name })} onConfirm={() => remove(rule.key)} okButtonProps={{ danger: true, "data-testid": "rule-delete-confirm" }}>
                      <Button type="link" size="small" danger icon={<DeleteOutlined />} data-testid={`rule-delete-${rule.key}`}>
                        {t("rules.delete")}
                      </Button>
                    </Popconfirm>
                  </Space>
                </List.Item>
              );
            }}
          />
        )}
      </Card>
    </>
  );
}
