/**
 * 恢复备份 · Restore backups (the designer's header): the backups type changes left of the
 * form's fields (`GET …/backups`), each restorable into its field — where the field is empty and
 * the value converts — with what could not be restored, named with links to the records.
 */
import { HistoryOutlined } from "@ant-design/icons";
import { App, Button, List, Modal, Popconfirm, Table, Typography } from "antd";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { Link } from "react-router";
import { apiPath, ApiError, request } from "../api/client";
import type { AppDef } from "../api/types";
import { labelText } from "../forms/labels";

interface Backup {
  field: string;
  backup: string;
  type: string | null;
  at: string | null;
  values: number;
}

interface Skipped {
  id: number;
  title: string | null;
  value: string;
  reason: "not_converted" | "has_value";
}

interface Report {
  field: string;
  restored: number;
  skipped: number;
  not_restored: Skipped[];
}

const base = (app: string, form: string) => `/apps/${encodeURIComponent(app)}/forms/${encodeURIComponent(form)}` as const;

export default function BackupsButton({ app, formKey }: { app: AppDef; formKey: string }) {
  const { t, i18n } = useTranslation();
  const lang = i18n.language === "en" ? "en" : "zh";
  const { message } = App.useApp();
  const [open, setOpen] = useState(false);
  const [rows, setRows] = useState<Backup[] | null>(null);
  const [report, setReport] = useState<Report | null>(null);
  const [busy, setBusy] = useState<string | null>(null);
  const form = app.forms.find((f) => f.key === formKey);
  // A subform's row field is `subform.field`: named "明细 / 数量".
  const fieldName = (key: string) => {
    const [outer, inner] = key.split(".");
    const field = form?.fields.find((f) => f.key === outer);
    const name = labelText(field?.label, lang, outer);
    if (inner === undefined) return name;
    return `${name} / ${labelText(field?.fields?.find((f) => f.key === inner)?.label, lang, inner)}`;
  };
  const load = async () => {
    setRows(await request<Backup[]>("GET", apiPath(`${base(app.key, formKey)}/backups`)));
  };
  const show = async () => {
    setOpen(true);
    setReport(null);
    try {
      await load();
    } catch (error) {
      message.error(error instanceof Error ? error.message : t("errors.generic"));
    }
  };
  const restore = async (row: Backup) => {
    setBusy(row.backup);
    try {
      const path = apiPath(`${base(app.key, formKey)}/fields/${encodeURIComponent(row.field)}/backups/${encodeURIComponent(row.backup)}/restore`);
      const answer = await request<Report>("POST", path);
      setReport(answer);
      message.success(t("designFix.restored", { count: answer.restored }));
      await load();
    } catch (error) {
      const text = error instanceof ApiError && error.issues.length ? error.issues[0].message : error instanceof Error ? error.message : t("errors.generic");
      message.error(text);
    } finally {
      setBusy(null);
    }
  };
  return (
    <>
      <Button icon={<HistoryOutlined />} onClick={show} data-testid="designer-backups">
        {t("designFix.backups")}
      </Button>
      <Modal open={open} title={t("designFix.backupsTitle")} footer={null} onCancel={() => setOpen(false)} width={720} destroyOnHidden>
        <div data-testid="backups-modal">
          <Table<Backup>
            size="small"
            rowKey="backup"
            loading={rows === null}
            dataSource={rows ?? []}
            pagination={false}
            locale={{ emptyText: t("designFix.backupsEmpty") }}
            columns={[
              { title: t("designFix.backupField"), dataIndex: "field", render: (key: string) => fieldName(key) },
              { title: t("designFix.backupType"), dataIndex: "type" },
              { title: t("designFix.backupAt"), dataIndex: "at", render: (at: string | null) => (at ? new Date(at).toLocaleString() : "") },
              { title: t("designFix.backupValues"), dataIndex: "values" },
              {
                title: "",
                key: "restore",
                render: (_: unknown, row: Backup) => (
                  <Popconfirm
                    title={t("designFix.restoreConfirm", { field: fieldName(row.field) })}
                    onConfirm={() => restore(row)}
                    okButtonProps={{ "data-testid": "backup-restore-confirm" } as Record<string, string>}
                  >
                    <Button size="small" loading={busy === row.backup} data-testid={`backup-restore-${row.backup}`}>
                      {t("designFix.restore")}
                    </Button>
                  </Popconfirm>
                ),
              },
            ]}
          />
          {report && (
            <div style={{ marginTop: 12 }} data-testid="backup-report">
              <Typography.Text strong>{t("designFix.restored", { count: report.restored })}</Typography.Text>
              {report.skipped > 0 && (
                <>
                  <br />
                  <Typography.Text type="warning">{t("designFix.notRestored", { count: report.skipped })}</Typography.Text>
                  <List
                    size="small"
                    dataSource={report.not_restored}
                    renderItem={(s) => (
                      <List.Item key={s.id} data-testid="backup-skipped">
                        <Link to={`/apps/${encodeURIComponent(app.key)}/${encodeURIComponent(formKey)}?open=${s.id}`} target="_blank">
                          {s.title || t("designFix.untitled", { id: s.id })}
                        </Link>
                        ：{s.value} — {t(`designFix.reasons.${s.reason}`)}
                      </List.Item>
                    )}
                  />
                  {report.skipped > report.not_restored.length && <Typography.Text type="secondary">{t("designFix.notConvertedMore", { count: report.skipped - report.not_restored.length })}</Typography.Text>}
                </>
              )}
            </div>
          )}
        </div>
      </Modal>
    </>
  );
}
