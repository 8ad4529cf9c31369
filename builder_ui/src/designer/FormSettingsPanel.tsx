/**
 * The form-level settings of the designer (shown when no field is selected, or on the
 * 表单设置 / Form settings tab): the form's name in zh and en and its title field — the field
 * that names a record in grids, pickers and history — chosen among the titleable fields.
 */
import { Alert, Card, Form, Input, Select, Typography } from "antd";
import { useTranslation } from "react-i18next";
import type { FieldDef, Issue } from "../api/types";
import { labelText } from "../forms/labels";
import { setLabel, type FormSettings } from "./state";

interface Props {
  settings: FormSettings;
  onChange(settings: FormSettings): void;
  /** The fields that may be the title field (state.titleCandidates). */
  candidates: FieldDef[];
  /** The server's issues about the form itself (state.formIssues). */
  issues: Issue[];
}

export default function FormSettingsPanel({ settings, onChange, candidates, issues }: Props) {
  const { t, i18n } = useTranslation();
  const lang = i18n.language === "en" ? "en" : "zh";
  const name = settings.name;
  return (
    <Card size="small" title={t("canvas.formSettings")} data-testid="form-settings">
      {issues.map((i) => (
        <Alert key={i.path + i.code} type="error" title={i.message} style={{ marginBottom: 8 }} />
      ))}
      <Form layout="vertical" size="small">
        <Form.Item label={t("canvas.formNameZh")}>
          <Input value={labelText(name, "zh", "")} onChange={(e) => onChange({ ...settings, name: setLabel(name, "zh", e.target.value) })} data-testid="form-name-zh" />
        </Form.Item>
        <Form.Item label={t("canvas.formNameEn")}>
          <Input
            value={typeof name === "object" && name ? (name.en ?? "") : ""}
            onChange={(e) => onChange({ ...settings, name: setLabel(name, "en", e.target.value) })}
            data-testid="form-name-en"
          />
        </Form.Item>
        <Form.Item label={t("canvas.titleField")} extra={t("canvas.titleFieldHint")}>
          <Select
            allowClear
            value={settings.title_field ?? undefined}
            placeholder={t("canvas.titleFieldNone")}
            options={candidates.map((f) => ({ value: f.key, label: labelText(f.label, lang, f.key) }))}
            onChange={(key?: string) => onChange({ ...settings, title_field: key ?? null })}
            data-testid="form-title-field"
          />
        </Form.Item>
        {candidates.length === 0 && <Typography.Text type="secondary">{t("canvas.noTitleable")}</Typography.Text>}
      </Form>
    </Card>
  );
}
