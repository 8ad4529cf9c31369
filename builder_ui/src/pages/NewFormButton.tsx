/**
 * 新建表单 · New form (administrators, on an app's home): asks for a key and a name, publishes
 * the app with an empty form added (a new table, so nothing existing changes) and opens the
 * designer on it.
 */
import { PlusOutlined } from "@ant-design/icons";
import { useQueryClient } from "@tanstack/react-query";
import { App, Button, Form, Input, Modal } from "antd";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { useNavigate } from "react-router";
import { api, ApiError } from "../api/client";
import type { AppDef } from "../api/types";
import { freshFormKey, withNewForm } from "./newForm";

interface NewFormValues {
  key: string;
  zh: string;
  en?: string;
}

export default function NewFormButton({ app }: { app: AppDef }) {
  const { t } = useTranslation();
  const { message } = App.useApp();
  const navigate = useNavigate();
  const client = useQueryClient();
  const [open, setOpen] = useState(false);
  const [busy, setBusy] = useState(false);
  const [form] = Form.useForm<NewFormValues>();
  const submit = async (values: NewFormValues) => {
    setBusy(true);
    const definition = withNewForm(app, values.key, { zh: values.zh, en: values.en ?? "" });
    const index = definition.forms.length - 1;
    try {
      const plan = await api.plan(app.key, definition);
      const saved = await api.publish(app.key, definition, plan.plan_hash);
      client.setQueryData(["app", app.key], { ...saved, plan: undefined });
      setOpen(false);
      navigate(`/apps/${app.key}/${values.key}/design`);
    } catch (error) {
      if (error instanceof ApiError && error.status === 409) {
        await client.invalidateQueries({ queryKey: ["app", app.key] });
        message.warning(t("newForm.conflict"));
      } else if (error instanceof ApiError && error.issues.length) {
        const at = (path: string): "key" | "zh" | null =>
          path === `forms[${index}].key` ? "key" : path.startsWith(`forms[${index}].name`) ? "zh" : null;
        const fields = error.issues.filter((i) => at(i.path)).map((i) => ({ name: at(i.path)!, errors: [i.message] }));
        if (fields.length) form.setFields(fields);
        else message.error(error.issues[0].message);
      } else message.error(error instanceof Error ? error.message : t("errors.generic"));
    } finally {
      setBusy(false);
    }
  };
  return (
    <>
      <Button icon={<PlusOutlined />} onClick={() => setOpen(true)} data-testid="new-form">
        {t("newForm.open")}
      </Button>
      <Modal
        open={open}
        title={t("newForm.title")}
        okText={t("newForm.create")}
        cancelText={t("fill.cancel")}
        confirmLoading={busy}
        onOk={() => form.submit()}
        onCancel={() => setOpen(false)}
        destroyOnHidden
        okButtonProps={{ "data-testid": "new-form-create" } as Record<string, string>}
      >
        <Form form={form} layout="vertical" onFinish={submit} preserve={false} initialValues={{ key: freshFormKey(app) }}>
          <Form.Item name="key" label={t("newForm.key")} rules={[{ required: true, pattern: /^[a-z][a-z0-9_]*$/, message: t("newForm.keyRule") }]}>
            <Input data-testid="new-form-key" />
          </Form.Item>
          <Form.Item name="zh" label={t("newApp.nameZh")} rules={[{ required: true, message: t("newForm.nameRule") }]}>
            <Input data-testid="new-form-zh" />
          </Form.Item>
          <Form.Item name="en" label={t("newApp.nameEn")}>
            <Input data-testid="new-form-en" />
          </Form.Item>
        </Form>
      </Modal>
    </>
  );
}
