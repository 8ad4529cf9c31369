/**
 * 新建表单 · New form (administrators, on an app's home): asks for a key and a name, publishes
 * the app with an empty form added (a new table, so nothing existing changes) and opens the
 * designer on it.
 */
import { PlusOutlined } from "@ant-design/icons";
import { useQueryClient } from "@tanstack/react-query";
import { App, Button } from "antd";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { useNavigate } from "react-router";
import { api, ApiError } from "../api/client";
import type { AppDef } from "../api/types";
import KeyNameDialog, { type KeyName } from "../components/KeyNameDialog";
import { freshFormKey, withNewForm } from "./newForm";

export default function NewFormButton({ app }: { app: AppDef }) {
  const { t } = useTranslation();
  const { message } = App.useApp();
  const navigate = useNavigate();
  const client = useQueryClient();
  const [open, setOpen] = useState(false);
  // The pinyin dictionary is large: loaded when the dialog opens, not with the app home.
  const [keys, setKeys] = useState<typeof import("../designer/keys") | null>(null);
  const openDialog = () => {
    setOpen(true);
    if (!keys) void import("../designer/keys").then(setKeys);
  };
  const index = app.forms.length;
  const create = async (values: KeyName) => {
    const definition = withNewForm(app, values.key, { zh: values.zh, en: values.en });
    try {
      const plan = await api.plan(app.key, definition);
      const saved = await api.publish(app.key, definition, plan.plan_hash);
      client.setQueryData(["app", app.key], { ...saved, plan: undefined });
    } catch (error) {
      if (!(error instanceof ApiError && error.status === 409)) throw error;
      await client.invalidateQueries({ queryKey: ["app", app.key] });
      message.warning(t("newForm.conflict"));
      return;
    }
    setOpen(false);
    navigate(`/apps/${app.key}/${values.key}/design`);
  };
  return (
    <>
      <Button icon={<PlusOutlined />} onClick={openDialog} data-testid="new-form">
        {t("newForm.open")}
      </Button>
      <KeyNameDialog
        open={open}
        title={t("newForm.title")}
        okText={t("newForm.create")}
        keyLabel={t("newForm.key")}
        testId="new-form"
        initialKey={freshFormKey(app)}
        taken={new Set(app.forms.map((f) => f.key))}
        keyFromName={keys ? (name) => keys.formKeyFromName(name, app.forms.map((f) => f.key), freshFormKey(app)) : undefined}
        optionalEn
        fieldOf={(path) => (path === `forms[${index}].key` ? "key" : path.startsWith(`forms[${index}].name`) ? "zh" : null)}
        onCancel={() => setOpen(false)}
        onSubmit={create}
      />
    </>
  );
}
