/**
 * What the designers of a definition part (flows, rules) share: the header bar (back link,
 * title, tags, the unsaved mark and the actions), the warning shown when someone else published
 * the app meanwhile, and the publish call with its three outcomes — saved, refused with issues,
 * or stale (409, the app changed under the draft; the draft is kept and 重新加载 reloads).
 */
import { ArrowLeftOutlined } from "@ant-design/icons";
import { useQueryClient } from "@tanstack/react-query";
import { Alert, App, Button, Space, Tag, Typography } from "antd";
import { useState, type ReactNode } from "react";
import { useTranslation } from "react-i18next";
import { Link } from "react-router";
import { ApiError } from "../api/client";
import type { AppDef, Issue } from "../api/types";

export interface PublishOutcome {
  /** Shown when the part was published. */
  saved: string;
  /** Shown when the server refused it with issues. */
  fix: string;
  /** Receives the server's issues (nothing was saved). */
  onIssues: (issues: Issue[]) => void;
  /** Runs after a publish, with the app as it is now. */
  onSaved?: (app: AppDef) => void;
}

/** Publishes through `publish()` and reports the outcome; `conflict` is set on a 409. */
export function usePartPublish(appKey: string) {
  const { t } = useTranslation();
  const { message } = App.useApp();
  const client = useQueryClient();
  const [busy, setBusy] = useState(false);
  const [conflict, setConflict] = useState(false);

  const publish = async (call: () => Promise<AppDef>, outcome: PublishOutcome) => {
    setBusy(true);
    try {
      const saved = await call();
      outcome.onIssues([]);
      outcome.onSaved?.(saved);
      client.setQueryData(["app", appKey], saved);
      message.success(outcome.saved);
    } catch (error) {
      if (error instanceof ApiError && error.status === 409) setConflict(true);
      else if (error instanceof ApiError && error.issues.length) {
        outcome.onIssues(error.issues);
        message.error(outcome.fix);
      } else message.error(error instanceof Error ? error.message : t("errors.generic"));
    } finally {
      setBusy(false);
    }
  };
  const reload = async () => {
    setConflict(false);
    await client.invalidateQueries({ queryKey: ["app", appKey] });
  };
  return { busy, conflict, publish, reload };
}

/** The designer's top bar; test ids are `<testId>-back`, `-title` and `-dirty`. */
export function DesignerHeader({
  testId,
  back,
  backText,
  title,
  tags,
  dirty,
  dirtyText,
  actions,
}: {
  testId: string;
  back: string;
  backText: string;
  title: ReactNode;
  tags?: ReactNode;
  dirty: boolean;
  dirtyText: string;
  actions: ReactNode;
}) {
  return (
    <Space style={{ display: "flex", justifyContent: "space-between", marginBottom: 12 }} wrap>
      <Space wrap align="center">
        <Link to={back} data-testid={`${testId}-back`}>
          <ArrowLeftOutlined /> {backText}
        </Link>
        <Typography.Title level={3} style={{ margin: 0 }} data-testid={`${testId}-title`}>
          {title}
        </Typography.Title>
        {tags}
        {dirty && (
          <Tag color="orange" data-testid={`${testId}-dirty`}>
            {dirtyText}
          </Tag>
        )}
      </Space>
      <Space wrap>{actions}</Space>
    </Space>
  );
}

/** The warning that the app was published meanwhile; test ids `<testId>-conflict`, `-reload`. */
export function ConflictAlert({ testId, conflict, onReload }: { testId: string; conflict: boolean; onReload: () => void }) {
  const { t } = useTranslation();
  if (!conflict) return null;
  return (
    <Alert
      type="warning"
      showIcon
      style={{ marginBottom: 12 }}
      title={t("designer.conflict")}
      action={
        <Button size="small" onClick={onReload} data-testid={`${testId}-reload`}>
          {t("designer.reload")}
        </Button>
      }
      data-testid={`${testId}-conflict`}
    />
  );
}
