/**
 * The form-level settings of the designer (shown when no field is selected, or on the
 * 表单设置 / Form settings tab): the form's name in zh and en, its title field — the field
 * that names a record in grids, pickers and history — chosen among the titleable fields, and
 * its cross-field rules (表单校验: a formula that must hold, with the message shown otherwise)
 * and its frequent filter & sort combinations (CombinationsEditor: the form's `indexes`).
 */
import { DeleteOutlined, PlusOutlined } from "@ant-design/icons";
import { Alert, Button, Card, Divider, Form, Input, Select, Space, Typography } from "antd";
import { useTranslation } from "react-i18next";
import type { FieldDef, Issue } from "../api/types";
import { labelText } from "../forms/labels";
import { combinationPlace } from "./combinations";
import CombinationsEditor from "./CombinationsEditor";
import type { DesignContext } from "./props/context";
import FormulaEditor from "./props/FormulaEditor";
import { addValidation, changeValidation, removeValidation, setLabel, validationIndex, type FormSettings } from "./state";

interface Props {
  settings: FormSettings;
  onChange(settings: FormSettings): void;
  /** The fields that may be the title field (state.titleCandidates). */
  candidates: FieldDef[];
  /** The server's issues about the form itself (state.formIssues). */
  issues: Issue[];
  /** The draft form, for the rules' formula editors (field chips, live check). */
  context: DesignContext;
}

export default function FormSettingsPanel({ settings, onChange, candidates, issues, context }: Props) {
  const { t, i18n } = useTranslation();
  const lang = i18n.language === "en" ? "en" : "zh";
  const name = settings.name;
  const rules = settings.validations ?? [];
  return (
    <Card size="small" title={t("canvas.formSettings")} data-testid="form-settings">
      {issues.filter((i) => validationIndex(i.path) === null && combinationPlace(i.path) === null).map((i) => (
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
        <Divider titlePlacement="start" plain>
          {t("canvas.validations")}
        </Divider>
        <Typography.Paragraph type="secondary" style={{ fontSize: 12 }}>
          {t("canvas.validationsHint")}
        </Typography.Paragraph>
        {rules.map((rule, index) => {
          const problems = issues.filter((i) => validationIndex(i.path) === index);
          const set = (patch: { expr?: string; zh?: string; en?: string }) => onChange({ ...settings, validations: changeValidation(rules, index, patch) });
          return (
            <Card
              key={index}
              size="small"
              style={{ marginBottom: 8 }}
              title={`${t("canvas.validation")} ${index + 1}`}
              extra={
                <Button
                  size="small"
                  type="text"
                  danger
                  icon={<DeleteOutlined />}
                  aria-label={t("canvas.removeValidation")}
                  onClick={() => onChange({ ...settings, validations: removeValidation(rules, index) })}
                  data-testid={`form-validation-${index}-remove`}
                />
              }
              data-testid={`form-validation-${index}`}
            >
              {problems.map((i) => (
                <Alert key={i.path + i.code} type="error" title={i.message} style={{ marginBottom: 8 }} />
              ))}
              <Form.Item label={t("canvas.validationExpr")}>
                <FormulaEditor value={rule.expr} onChange={(expr) => set({ expr })} testId={`form-validation-${index}-expr`} context={context} placeholder="end_date >= start_date" />
              </Form.Item>
              <Space.Compact style={{ width: "100%" }}>
                <Input value={rule.message.zh ?? ""} placeholder={t("canvas.validationMessageZh")} onChange={(e) => set({ zh: e.target.value })} data-testid={`form-validation-${index}-zh`} />
                <Input value={rule.message.en ?? ""} placeholder={t("canvas.validationMessageEn")} onChange={(e) => set({ en: e.target.value })} data-testid={`form-validation-${index}-en`} />
              </Space.Compact>
            </Card>
          );
        })}
        <Button icon={<PlusOutlined />} onClick={() => onChange({ ...settings, validations: addValidation(rules) })} data-testid="form-validation-add">
          {t("canvas.addValidation")}
        </Button>
        <CombinationsEditor
          combinations={settings.indexes ?? []}
          onChange={(indexes) => onChange({ ...settings, indexes })}
          fields={context.formFields}
          issues={issues.filter((i) => combinationPlace(i.path) !== null)}
        />
      </Form>
    </Card>
  );
}
