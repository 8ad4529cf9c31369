/** Change my password (current + new twice); the server ends my other sessions, and my API
 * tokens too unless I untick "also revoke my API tokens". */
import { App, Checkbox, Form, Input, Modal } from "antd";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { api, ApiError } from "../api/client";

export default function PasswordModal({ open, onClose }: { open: boolean; onClose(): void }) {
  const { t } = useTranslation();
  const { message } = App.useApp();
  const [form] = Form.useForm();
  const [busy, setBusy] = useState(false);

  async function submit() {
    const values = await form.validateFields();
    setBusy(true);
    try {
      await api.changePassword(values.current, values.next, values.revokeTokens !== false);
      message.success(t("password.done"));
      form.resetFields();
      onClose();
    } catch (e) {
      if (e instanceof ApiError) {
        const byField: Record<string, string> = { current_password: "current", new_password: "next" };
        const fields = e.issues
          .filter((i) => byField[i.path])
          .map((i) => ({ name: byField[i.path], errors: [i.message] }));
        if (fields.length) form.setFields(fields);
        else message.error(e.message);
      } else message.error(t("errors.generic"));
    } finally {
      setBusy(false);
    }
  }

  return (
    <Modal open={open} title={t("password.title")} onOk={submit} onCancel={onClose} confirmLoading={busy} destroyOnHidden>
      <Form form={form} layout="vertical">
        <Form.Item name="current" label={t("password.current")} rules={[{ required: true }]}>
          <Input.Password autoComplete="current-password" />
        </Form.Item>
        <Form.Item name="next" label={t("password.next")} rules={[{ required: true }]}>
          <Input.Password autoComplete="new-password" />
        </Form.Item>
        <Form.Item
          name="confirm"
          label={t("password.confirm")}
          dependencies={["next"]}
          rules={[
            { required: true },
            ({ getFieldValue }) => ({
              validator: (_, value) =>
                !value || getFieldValue("next") === value ? Promise.resolve() : Promise.reject(new Error(t("password.mismatch"))),
            }),
          ]}
        >
          <Input.Password autoComplete="new-password" />
        </Form.Item>
        <Form.Item name="revokeTokens" valuePropName="checked" initialValue={true}>
          <Checkbox>{t("password.revokeTokens")}</Checkbox>
        </Form.Item>
      </Form>
    </Modal>
  );
}
