/** Change my password (current + new twice); the server ends my other sessions, and my API
 * tokens too unless I untick "also revoke my API tokens". `forced`: the password an
 * administrator set must be changed first — the dialog says so and cannot be dismissed, only
 * left by signing out (`onSignOut`). */
import { useQueryClient } from "@tanstack/react-query";
import { Alert, App, Button, Checkbox, Form, Input, Modal } from "antd";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { api, ApiError } from "../api/client";

export default function PasswordModal({
  open,
  onClose,
  forced = false,
  onSignOut,
}: {
  open: boolean;
  onClose(): void;
  forced?: boolean;
  onSignOut?(): void;
}) {
  const { t } = useTranslation();
  const client = useQueryClient();
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
      // `/me` answers whether the password must still be changed: read it again
      await client.invalidateQueries({ queryKey: ["me"] });
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
    <Modal
      open={open}
      title={forced ? t("pw.mustTitle") : t("password.title")}
      onOk={submit}
      onCancel={forced ? undefined : onClose}
      confirmLoading={busy}
      destroyOnHidden
      closable={!forced}
      maskClosable={!forced}
      keyboard={!forced}
      okButtonProps={{ "data-testid": "password-ok" } as Record<string, string>}
      footer={
        forced
          ? (_, { OkBtn }) => (
              <>
                <Button onClick={onSignOut} data-testid="password-sign-out">
                  {t("pw.signOut")}
                </Button>
                <OkBtn />
              </>
            )
          : undefined
      }
    >
      {forced && <Alert type="warning" showIcon style={{ marginBottom: 16 }} title={t("pw.mustHelp")} data-testid="password-must" />}
      <Form form={form} layout="vertical">
        <Form.Item name="current" label={t("password.current")} rules={[{ required: true }]}>
          <Input.Password autoComplete="current-password" data-testid="password-current" />
        </Form.Item>
        <Form.Item name="next" label={t("password.next")} rules={[{ required: true }]}>
          <Input.Password autoComplete="new-password" data-testid="password-next" />
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
          <Input.Password autoComplete="new-password" data-testid="password-confirm" />
        </Form.Item>
        <Form.Item name="revokeTokens" valuePropName="checked" initialValue={true}>
          <Checkbox>{t("password.revokeTokens")}</Checkbox>
        </Form.Item>
      </Form>
    </Modal>
  );
}
