/**
 * The dialog that starts something new by its key and its zh/en name (a new app, a new form, a
 * new role): checks the key's shape, shows the server's answer at the field it concerns, and
 * keeps the dialog open (and busy) until the action succeeds.
 */
import { App, Form, Input, Modal } from "antd";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { ApiError } from "../api/client";
import type { Issue } from "../api/types";

export interface KeyName {
  key: string;
  zh: string;
  en: string;
}

interface Props {
  open: boolean;
  title: string;
  okText: string;
  keyLabel: string;
  /** Prefix of the test ids: `<testId>-key`, `-zh`, `-en`, `-create`. */
  testId: string;
  initialKey?: string;
  /** Keys already used (refused before asking the server). */
  taken?: Set<string>;
  /** Which dialog field a server issue concerns, by its path (none: shown as a message). */
  fieldOf?(path: string): "key" | "zh" | null;
  onCancel(): void;
  /** A key from the name typed so far: the key follows the name until it is typed by hand. */
  keyFromName?(name: { zh: string; en: string }): string;
  /** An empty English name stays empty (the Chinese one shows) rather than copying the Chinese. */
  optionalEn?: boolean;
  /** Does the work; an `ApiError` with issues is shown at the fields. */
  onSubmit(values: KeyName): Promise<void> | void;
}

export default function KeyNameDialog({ open, title, okText, keyLabel, testId, initialKey, taken, fieldOf, keyFromName, optionalEn, onCancel, onSubmit }: Props) {
  const { t } = useTranslation();
  const { message } = App.useApp();
  const [form] = Form.useForm<{ key: string; zh: string; en?: string }>();
  const [busy, setBusy] = useState(false);
  const finish = async (values: { key: string; zh: string; en?: string }) => {
    setBusy(true);
    try {
      await onSubmit({ key: values.key, zh: values.zh, en: optionalEn ? (values.en ?? "") : values.en || values.zh });
    } catch (error) {
      if (error instanceof ApiError && error.issues.length) {
        const at = (issue: Issue) => fieldOf?.(issue.path) ?? null;
        const fields = error.issues.filter((i) => at(i)).map((i) => ({ name: at(i)!, errors: [i.message] }));
        if (fields.length) form.setFields(fields);
        else message.error(error.issues[0].message);
      } else message.error(error instanceof Error ? error.message : t("errors.generic"));
    } finally {
      setBusy(false);
    }
  };
  return (
    <Modal
      open={open}
      title={title}
      okText={okText}
      cancelText={t("fill.cancel")}
      confirmLoading={busy}
      onOk={() => form.submit()}
      onCancel={onCancel}
      destroyOnHidden
      okButtonProps={{ "data-testid": `${testId}-create` } as Record<string, string>}
    >
      <Form
        form={form}
        layout="vertical"
        onFinish={finish}
        preserve={false}
        initialValues={{ key: initialKey }}
        onValuesChange={(changed: { zh?: string; en?: string }, all: { zh?: string; en?: string }) => {
          if (!keyFromName || form.isFieldTouched("key") || !("zh" in changed || "en" in changed)) return;
          form.setFieldsValue({ key: keyFromName({ zh: all.zh ?? "", en: all.en ?? "" }) || initialKey });
        }}
      >
        <Form.Item
          name="key"
          label={keyLabel}
          rules={[
            { required: true, pattern: /^[a-z][a-z0-9_]{0,40}$/, message: t("newForm.keyRule") },
            { validator: (_, v: string) => (taken?.has(v) ? Promise.reject(new Error(t("roles.keyTaken"))) : Promise.resolve()) },
          ]}
        >
          <Input data-testid={`${testId}-key`} />
        </Form.Item>
        <Form.Item name="zh" label={t("newApp.nameZh")} rules={[{ required: true, message: t("newForm.nameRule") }]}>
          <Input data-testid={`${testId}-zh`} />
        </Form.Item>
        <Form.Item name="en" label={t("newApp.nameEn")}>
          <Input data-testid={`${testId}-en`} />
        </Form.Item>
      </Form>
    </Modal>
  );
}
