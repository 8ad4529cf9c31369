/** A rule run's state as a coloured tag (排队中/执行中/成功/失败/已跳过), and a run's time as text. */
import { Tag } from "antd";
import dayjs from "dayjs";
import { useTranslation } from "react-i18next";
import type { RuleRun } from "./api";

const STATE_COLORS: Record<string, string> = { succeeded: "green", failed: "red", queued: "blue", running: "processing", skipped: "default" };

export function RunStateTag({ run }: { run: Pick<RuleRun, "state"> }) {
  const { t } = useTranslation();
  return (
    <Tag color={STATE_COLORS[run.state] ?? "default"} data-testid="rule-run-state" data-state={run.state}>
      {t(`rules.states.${run.state}`, { defaultValue: run.state })}
    </Tag>
  );
}

export const runTime = (at: string | null): string => (at ? dayjs(at).format("YYYY-MM-DD HH:mm:ss") : "—");
