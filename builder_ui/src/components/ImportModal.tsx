/**
 * Import records from an xlsx/CSV file: all or nothing by default (the server writes nothing when
 * a row is bad), or the good rows only. Row-level problems (`rows[N].field`) are listed with the
 * spreadsheet's row number, the field's label and the server's message in the UI language.
 */
import { UploadOutlined } from "@ant-design/icons";
import { Alert, App, Button, Checkbox, Modal, Space, Table, Typography, Upload } from "antd";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { ApiError } from "../api/client";
import type { FormDef, Issue } from "../api/types";
import { importFile, type ImportResult } from "../api/views";
import { importProblems } from "../views/helpers";

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

  function reset() {
    setIssues([]);
    setFailure(null);
    setResult(null);
  }

  async function upload(file: File) {
    reset();
    setBusy(true);
    try {
      const outcome = await importFile(app, form.key, file, partial, startFlows);
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
  return (
    <Modal
      open={open}
      title={t("views.importTitle")}
      onCancel={() => {
        reset();
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
        <Upload
          accept=".xlsx,.csv"
          maxCount={1}
          showUploadList={false}
          beforeUpload={(file) => {
            void upload(file);
            return false;
          }}
        >
          <Button icon={<UploadOutlined />} loading={busy} data-testid="import-file">
            {t("views.importChoose")}
          </Button>
        </Upload>
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
