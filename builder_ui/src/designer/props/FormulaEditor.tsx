/**
 * The formula editor: a text area, chips of the form's fields (a click inserts the canonical
 * reference at the caret), the function reference (searchable, from `GET /expr/functions`)
 * and a live check through `POST /expr/check` against the draft form, showing the error at its
 * line and column or the result type.
 */
import { CheckCircleFilled, CloseCircleFilled, FunctionOutlined, LoadingOutlined } from "@ant-design/icons";
import { useQuery } from "@tanstack/react-query";
import { Button, Input, List, Popover, Tag, Typography } from "antd";
import type { TextAreaRef } from "antd/es/input/TextArea";
import { useEffect, useLayoutEffect, useMemo, useRef, useState } from "react";
import type { TFunction } from "i18next";
import { useTranslation } from "react-i18next";
import { ApiError, apiPath, request } from "../../api/client";
import type { Issue } from "../../api/types";
import { errorPosition, formulaChips, insertAt, offsetOf } from "../properties";
import { checkBody, rowFields, type DesignContext } from "./context";

export interface FunctionDoc {
  name: string;
  category: string;
  signature: string;
  summary: { zh: string; en: string };
  examples: { formula: string; result: string }[];
  sql: boolean;
}

type CheckState =
  | { state: "idle" }
  | { state: "checking" }
  | { state: "ok"; type: string }
  | { state: "error"; message: string; line?: number; column?: number };

const CHECK_DELAY_MS = 400;

export interface FormulaEditorProps {
  value: string;
  onChange(value: string): void;
  /** The text area's `data-testid`; the chips, function list and check status derive theirs from it. */
  testId: string;
  context: DesignContext;
  placeholder?: string;
  rows?: number;
}

export default function FormulaEditor({ value, onChange, testId, context, placeholder, rows = 2 }: FormulaEditorProps) {
  const { t, i18n } = useTranslation();
  const lang = i18n.language === "en" ? "en" : "zh";
  const area = useRef<TextAreaRef>(null);
  const check = useLiveCheck(value, context);
  const chips = useMemo(() => formulaChips(context.formFields, context.app, lang, rowFields(context), context.fieldKey), [context, lang]);

  const insert = (text: string) => {
    const element = area.current?.resizableTextArea?.textArea;
    const start = element?.selectionStart ?? value.length;
    const end = element?.selectionEnd ?? value.length;
    const next = insertAt(value, start, end, text);
    pendingCaret.current = next.caret;
    onChange(next.text);
  };
  // After an insertion renders, the caret goes right after what was inserted (before any key
  // the user types next is handled: layout effects run before the browser's next event).
  const pendingCaret = useRef<number | null>(null);
  useLayoutEffect(() => {
    const element = area.current?.resizableTextArea?.textArea;
    if (pendingCaret.current === null || !element) return;
    element.focus();
    element.setSelectionRange(pendingCaret.current, pendingCaret.current);
    pendingCaret.current = null;
  }, [value]);
  const goTo = (line: number, column: number) => {
    const element = area.current?.resizableTextArea?.textArea;
    const at = offsetOf(value, line, column);
    element?.focus();
    element?.setSelectionRange(at, at);
  };

  return (
    <div data-testid={`${testId}-editor`}>
      <Input.TextArea
        ref={area}
        rows={rows}
        value={value}
        onChange={(e) => onChange(e.target.value)}
        placeholder={placeholder}
        spellCheck={false}
        style={{ fontFamily: "ui-monospace, SFMono-Regular, Menlo, monospace" }}
        data-testid={testId}
      />
      <div style={{ display: "flex", gap: 4, marginTop: 4, alignItems: "flex-start" }}>
        <div style={{ flex: 1, display: "flex", flexWrap: "wrap", gap: 4, maxHeight: 76, overflowY: "auto" }} aria-label={t("props.chips")}>
          {chips.map((chip) => (
            <Tag
              key={chip.path.join(".")}
              color={chip.via === "subform" ? "purple" : chip.via === "relation" ? "cyan" : "blue"}
              style={{ cursor: "pointer", marginInlineEnd: 0 }}
              title={chip.ref}
              onMouseDown={(e) => e.preventDefault() /* keep the caret in the text area */}
              onClick={() => insert(chip.ref)}
              data-testid={`${testId}-chip-${chip.path.join(".")}`}
            >
              {chip.text}
            </Tag>
          ))}
        </div>
        <Popover
          trigger="click"
          placement="bottomRight"
          title={t("props.functions")}
          content={<FunctionHelp testId={testId} onPick={(fn) => insert(`${fn.name}(`)} />}
        >
          <Button size="small" icon={<FunctionOutlined />} data-testid={`${testId}-functions`}>
            {t("props.functionsButton")}
          </Button>
        </Popover>
      </div>
      <CheckStatus check={check} value={value} testId={testId} onGoTo={goTo} />
    </div>
  );
}

/** The result of checking `value` against the draft, re-checked a moment after the last change. */
function useLiveCheck(value: string, context: DesignContext): CheckState {
  const [check, setCheck] = useState<CheckState>({ state: "idle" });
  const body = JSON.stringify(checkBody(value, context));
  const counter = useRef(0);
  useEffect(() => {
    if (!value.trim()) {
      setCheck({ state: "idle" });
      return;
    }
    setCheck({ state: "checking" });
    const mine = ++counter.current;
    const timer = window.setTimeout(async () => {
      try {
        const result = await request<{ type: string }>("POST", apiPath("/expr/check"), JSON.parse(body));
        if (mine === counter.current) setCheck({ state: "ok", type: result.type });
      } catch (error) {
        if (mine !== counter.current) return;
        const issue: Issue | undefined = error instanceof ApiError ? error.issues[0] : undefined;
        const position = errorPosition(issue);
        setCheck({ state: "error", message: issue?.message ?? (error instanceof Error ? error.message : String(error)), ...(position ?? {}) });
      }
    }, CHECK_DELAY_MS);
    return () => window.clearTimeout(timer);
  }, [body, value]);
  return check;
}

function typeName(type: string, t: TFunction): string {
  const list = /^list<(.+)>$/.exec(type);
  const kind = list ? list[1] : type;
  const name = t(`props.types.${kind}`, { defaultValue: kind });
  return list ? t("props.types.listOf", { type: name }) : name;
}

function CheckStatus({ check, value, testId, onGoTo }: { check: CheckState; value: string; testId: string; onGoTo(line: number, column: number): void }) {
  const { t } = useTranslation();
  const style = { fontSize: 12, marginTop: 4 };
  if (check.state === "idle") return <div data-testid={`${testId}-check`} data-state="idle" />;
  if (check.state === "checking")
    return (
      <div style={style} data-testid={`${testId}-check`} data-state="checking">
        <Typography.Text type="secondary"><LoadingOutlined /> {t("props.checking")}</Typography.Text>
      </div>
    );
  if (check.state === "ok")
    return (
      <div style={style} data-testid={`${testId}-check`} data-state="ok">
        <Typography.Text type="success"><CheckCircleFilled /> {t("props.checkOk", { type: typeName(check.type, t) })}</Typography.Text>
      </div>
    );
  const { line, column } = check;
  const source = line ? (value.split("\n")[line - 1] ?? "") : "";
  return (
    <div style={style} data-testid={`${testId}-check`} data-state="error">
      <Typography.Text type="danger">
        <CloseCircleFilled />{" "}
        {line && column ? (
          <a onClick={() => onGoTo(line, column)} data-testid={`${testId}-check-position`}>
            {t("props.position", { line, column })}
          </a>
        ) : null}{" "}
        {check.message}
      </Typography.Text>
      {line && column ? (
        <pre style={{ margin: "2px 0 0", fontSize: 12, lineHeight: 1.3, overflowX: "auto" }} data-testid={`${testId}-check-pointer`}>
          {source}
          {"\n"}
          {" ".repeat(Math.max(0, column - 1))}^
        </pre>
      ) : null}
    </div>
  );
}

/** The searchable function list; a click inserts `NAME(`. */
function FunctionHelp({ testId, onPick }: { testId: string; onPick(fn: FunctionDoc): void }) {
  const { t, i18n } = useTranslation();
  const lang = i18n.language === "en" ? "en" : "zh";
  const [search, setSearch] = useState("");
  const functions = useQuery({
    queryKey: ["expr-functions"],
    queryFn: () => request<FunctionDoc[]>("GET", apiPath("/expr/functions")),
    staleTime: Infinity,
  });
  const needle = search.trim().toLowerCase();
  const shown = (functions.data ?? []).filter(
    (fn) => !needle || fn.name.toLowerCase().includes(needle) || fn.summary.zh.includes(needle) || fn.summary.en.toLowerCase().includes(needle),
  );
  return (
    <div style={{ width: "min(360px, 80vw)" }}>
      <Input.Search allowClear size="small" placeholder={t("props.searchFunctions")} value={search} onChange={(e) => setSearch(e.target.value)} data-testid={`${testId}-function-search`} />
      <List
        size="small"
        loading={functions.isPending}
        style={{ maxHeight: 320, overflowY: "auto", marginTop: 4 }}
        dataSource={shown}
        rowKey="name"
        renderItem={(fn) => (
          <List.Item style={{ cursor: "pointer", display: "block" }} onClick={() => onPick(fn)} data-testid={`${testId}-function-${fn.name}`}>
            <Typography.Text code>{fn.signature}</Typography.Text>
            <div style={{ fontSize: 12 }}>{fn.summary[lang]}</div>
            {fn.examples[0] && (
              <Typography.Text type="secondary" style={{ fontSize: 12 }}>
                {fn.examples[0].formula} → {fn.examples[0].result}
              </Typography.Text>
            )}
          </List.Item>
        )}
      />
    </div>
  );
}
