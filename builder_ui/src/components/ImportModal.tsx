/**
 * Import records from an xlsx/CSV file: a template to start from (下载模板), then after the upload
 * a mapping step — each column of the file goes to a field (matched by header, changeable) or
 * is ignored, with a preview of the first rows — then the import with that mapping. All or
 * nothing by default (the server writes nothing when a row is bad), or the good rows only.
 * Row-level problems (`rows[N].field`) are listed with the spreadsheet's row number, the
 * field's label and the server's message in the UI language.
 */
import { DownloadOutlined, UploadOutlined } from "@ant-design/icons";
import { Alert, App, Button, Checkbox, Modal, Select, Space, Table, Typography, Upload } from "antd";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { ApiError } from "../api/client";
import type { FormDef, Issue } from "../api/types";
import { importFile, type ImportResult } from "../api/views";
import { labelText } from "../forms/labels";
import { importProblems } from "../views/helpers";
import { duplicateFields, mappableFields, mappingReady, previewImport, templateUrl, type ImportPreview } from "./importMapping";

interface Props {
  app: string;
  form: FormDef;
  open: boolean;
  onClose(): void;
  /** After records were written: refresh what shows them. */
  onImported(): void;
}

export default function ImportModal({ app, form, open, onClose, onImported }: Props) {
  const { t, i18n } = useTranslation();
  const { message } = App.useApp();
  const [partial, setPartial] = useState(false);
  const [startFlows, setStartFlows] = useState(false);
  const [busy, setBusy] = useState(false);
  const [issues, setIssues] = useState<Issue[]>([]);
  const [failure, setFailure] = useState<string | null>(null);
  const [result, setResult] = useState<ImportResult | null>(null);
  const [file, setFile] = useState<File | null>(null);
  const [preview, setPreview] = useState<ImportPreview | null>(null);
  const [mapping, setMapping] = useState<(string | null)[]>([]);

  function reset() {
    setIssues([]);
    setFailure(null);
    setResult(null);
  }

  function restart() {
    reset();
    setFile(null);
    setPreview(null);
    setMapping([]);
  }

  async function upload(chosen: File) {
    restart();
    setBusy(true);
    try {
      const answer = await previewImport(app, form.key, chosen);
      setFile(chosen);
      setPreview(answer);
      setMapping(answer.matched);
    } catch (e) {
      setFailure(e instanceof ApiError ? (e.issues[0]?.message ?? e.message) : t("designFix.readFailed", { message: String(e) }));
    } finally {
      setBusy(false);
    }
  }

  async function run() {
    if (!file) return;
    reset();
    setBusy(true);
    try {
      const outcome = await importFile(app, form.key, file, partial, startFlows, mapping);
      setResult(outcome);
      const skipped = outcome.results.flatMap((r) => (r.ok ? [] : r.error?.issues ?? []));
      setIssues(skipped);
      if (outcome.created > 0) {
        message.success(t("views.importDone", { count: outcome.created }));
        onImported();
      }
    } catch (e) {
      if (e instanceof ApiError) {
        setIssues(e.issues);
        setFailure(e.issues.length ? t("views.importFailed", { count: e.issues.length }) : e.message);
      } else setFailure(t("errors.generic"));
    } finally {
      setBusy(false);
    }
  }

  const problems = importProblems(issues, form.fields, i18n.language).map((p, i) => ({ ...p, key: i }));
  const choices = [
    { value: "", label: t("designFix.ignore") },
    ...mappableFields(form.fields).map((f) => ({ value: f.key, label: labelText(f.label, i18n.language, f.key) })),
  ];
  const twice = duplicateFields(mapping);
  return (
    <Modal
      open={open}
      title={t("views.importTitle")}
      onCancel={() => {
        restart();
        onClose();
      }}
      footer={null}
      width={720}
      data-testid="import-modal"
    >
      <Space orientation="vertical" style={{ width: "100%" }}>
        <Typography.Text type="secondary">{t("views.importHint")}</Typography.Text>
        <Checkbox checked={partial} onChange={(e) => setPartial(e.target.checked)} data-testid="import-partial">
          {t("views.importPartial")}
        </Checkbox>
        {!partial && <Typography.Text type="secondary">{t("views.importAllOrNothing")}</Typography.Text>}
        {form.flow && (
          <Checkbox checked={startFlows} onChange={(e) => setStartFlows(e.target.checked)} data-testid="import-start-flows">
            {t("views.importStartFlows")}
          </Checkbox>
        )}
        <Space wrap>
          <Upload
            accept=".xlsx,.csv"
            maxCount={1}
            showUploadList={false}
            beforeUpload={(chosen) => {
              void upload(chosen);
              return false;
            }}
          >
            <Button icon={<UploadOutlined />} loading={busy && !preview} data-testid="import-file">
              {preview ? t("designFix.back") : t("views.importChoose")}
            </Button>
          </Upload>
          <Button icon={<DownloadOutlined />} href={templateUrl(app, form.key)} download data-testid="import-template">
            {t("designFix.template")}
          </Button>
        </Space>
        {preview && (
          <div data-testid="import-mapping">
            <Typography.Title level={5} style={{ marginTop: 8 }}>{t("designFix.mapTitle")}</Typography.Title>
            <Typography.Text type="secondary">{t("designFix.mapHint")}</Typography.Text>
            <Table
              size="small"
              rowKey="index"
              pagination={false}
              style={{ marginTop: 8 }}
              scroll={{ x: true }}
              dataSource={preview.columns.map((column, index) => ({ index, column, samples: preview.rows.map((r) => r[index] ?? "").filter(Boolean).slice(0, 3).join("、") }))}
              columns={[
                { key: "column", dataIndex: "column", title: t("designFix.column"), width: 160 },
                {
                  key: "field",
                  title: t("designFix.field"),
                  width: 200,
                  render: (_: unknown, row: { index: number }) => (
                    <Select
                      size="small"
                      style={{ width: "100%" }}
                      value={mapping[row.index] ?? ""}
                      options={choices}
                      status={mapping[row.index] && twice.includes(mapping[row.index]!) ? "error" : undefined}
                      onChange={(key: string) => setMapping(mapping.map((k, i) => (i === row.index ? key || null : k)))}
                      data-testid={`import-map-${row.index}`}
                    />
                  ),
                },
                { key: "samples", dataIndex: "samples", title: t("designFix.preview", { count: preview.rows.length }), ellipsis: true },
              ]}
            />
            <Button
              type="primary"
              style={{ marginTop: 8 }}
              loading={busy}
              disabled={!mappingReady(mapping)}
              onClick={run}
              data-testid="import-run"
            >
              {t("designFix.importNow")}
            </Button>
          </div>
        )}
        {failure && <Alert type="error" showIcon title={failure} data-testid="import-error" />}
        {result && (
          <Alert
            type={result.failed ? "warning" : "success"}
            showIcon
            data-testid="import-result"
            title={[
              t("views.importDone", { count: result.created }),
              result.failed ? t("views.importSkipped", { count: result.failed }) : "",
              result.ignored_columns.length ? t("views.importIgnored", { columns: result.ignored_columns.join(", ") }) : "",
            ]
              .filter(Boolean)
              .join("；")}
          />
        )}
        {problems.length > 0 && (
          <Table
            size="small"
            pagination={problems.length > 10 ? { pageSize: 10 } : false}
            dataSource={problems}
            data-testid="import-problems"
            columns={[
              { key: "row", dataIndex: "row", title: t("views.importRow"), width: 70, render: (row: number | null) => row ?? "—" },
              { key: "field", dataIndex: "field", title: t("views.importField"), width: 140 },
              { key: "message", dataIndex: "message", title: t("views.importMessage") },
            ]}
          />
        )}
      </Space>
    </Modal>
  );
}
