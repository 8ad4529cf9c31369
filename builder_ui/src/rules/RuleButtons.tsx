/**
 * The buttons of button rules on a record's page (issue 14, `button` trigger): the live,
 * switched-on button rules of the form that I may press (`GET …/forms/{form}/rule-buttons`),
 * each behind a confirm; pressing fires the rule for the record (`POST …/rules/{rule}/fire`)
 * and says what happened — done, queued to run in the background, its condition not met, or the
 * server's refusal — then reloads the record and its history.
 */
import { ThunderboltOutlined } from "@ant-design/icons";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { App, Button, Popconfirm } from "antd";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { apiPath, ApiError, request } from "../api/client";
import { labelText } from "../forms/labels";
import { errorText, rulesApi, runOf } from "./api";

/** One button of a record page, as the server lists it. */
export interface RuleButton {
  rule: string;
  label: { zh?: string; en?: string } | string;
  mode: string;
}

const seg = encodeURIComponent;

export async function ruleButtons(app: string, form: string): Promise<RuleButton[]> {
  const raw = await request<{ buttons?: unknown }>("GET", apiPath(`/apps/${seg(app)}/forms/${seg(form)}/rule-buttons`));
  return Array.isArray(raw?.buttons) ? (raw.buttons as RuleButton[]) : [];
}

/** What a press answered, as a message key: done, queued, condition not met, or failed. */
export function pressOutcome(raw: unknown): "done" | "queued" | "notMet" | "failed" {
  const body = (typeof raw === "object" && raw !== null ? raw : {}) as { condition?: unknown; run?: unknown };
  if (!body.run) return "notMet";
  const run = runOf(body.run);
  if (run.state === "queued") return "queued";
  return run.state === "succeeded" ? "done" : "failed";
}

export default function RuleButtons({ app, form, id, onDone }: { app: string; form: string; id: number; onDone?(): void }) {
  const { t, i18n } = useTranslation();
  const { message } = App.useApp();
  const client = useQueryClient();
  const [busy, setBusy] = useState<string | null>(null);
  const buttons = useQuery({ queryKey: ["rule-buttons", app, form], queryFn: () => ruleButtons(app, form), retry: false });

  async function press(button: RuleButton) {
    setBusy(button.rule);
    try {
      const answer = await rulesApi.fire(app, button.rule, id);
      const outcome = pressOutcome(answer);
      const text = t(`rules.press.${outcome}`);
      if (outcome === "failed") message.error(text);
      else if (outcome === "notMet") message.info(text);
      else message.success(text);
      // The press is over when the engine answers: the button is free again as the message
      // says so, while the record, its history and the grids refresh behind it.
      setBusy(null);
      void Promise.all([
        client.invalidateQueries({ queryKey: ["record", app, form, id] }),
        client.invalidateQueries({ queryKey: ["history", app, form, id] }),
        client.invalidateQueries({ queryKey: ["records", app] }),
      ]).then(() => onDone?.());
    } catch (e) {
      const reason = e instanceof ApiError ? (errorText({ issues: e.issues }) ?? e.message) : t("errors.generic");
      message.error(t("rules.press.refused", { message: reason }));
    } finally {
      setBusy(null);
    }
  }

  if (!buttons.data?.length) return null;
  return (
    <>
      {buttons.data.map((button) => {
        const label = labelText(button.label, i18n.language, button.rule);
        return (
          <Popconfirm key={button.rule} title={t("rules.press.confirm", { label })} onConfirm={() => press(button)}>
            <Button icon={<ThunderboltOutlined />} loading={busy === button.rule} data-testid={`rule-button-${button.rule}`}>
              {label}
            </Button>
          </Popconfirm>
        );
      })}
    </>
  );
}
