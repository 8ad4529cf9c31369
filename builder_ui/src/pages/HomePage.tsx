/** My apps: every installed app I may use, as cards; administrators also start a new app here. */
import { AppstoreOutlined, PlusOutlined } from "@ant-design/icons";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { App, Button, Card, Col, Empty, Form, Input, Modal, Row, Space, Spin, Typography } from "antd";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { Link, useNavigate } from "react-router";
import { api, ApiError } from "../api/client";
import { newAppDefinition } from "../designer/state";
import { useAuth } from "../auth/AuthContext";
import { labelText } from "../forms/labels";

export default function HomePage() {
  const { t, i18n } = useTranslation();
  const { user } = useAuth();
  const apps = useQuery({ queryKey: ["apps"], queryFn: api.apps });
  if (apps.isPending) return <Spin />;
  return (
    <>
      <Space style={{ display: "flex", justifyContent: "space-between" }}>
        <Typography.Title level={3}>{t("home.title")}</Typography.Title>
        {user?.is_admin && <NewApp />}
      </Space>
      {apps.data && apps.data.length === 0 && (
        <Empty description={t("home.empty")}>
          {user?.is_admin && <Link to="/catalog">{t("home.emptyAdmin")}</Link>}
        </Empty>
      )}
      <Row gutter={[16, 16]}>
        {(apps.data ?? []).map((app) => (
          <Col key={app.key} xs={24} sm={12} md={8} lg={6}>
            <Link to={`/apps/${app.key}`} data-testid={`app-${app.key}`}>
              <Card hoverable>
                <Card.Meta
                  avatar={<AppstoreOutlined style={{ fontSize: 28, color: "#1677ff" }} />}
                  title={labelText(app.name, i18n.language, app.key)}
                  description={`v${app.version}`}
                />
              </Card>
            </Link>
          </Col>
        ))}
      </Row>
    </>
  );
}

interface NewAppValues {
  key: string;
  zh: string;
  en?: string;
}

/** "New app": a key and a name make an app with one empty form, opened in the form designer. */
function NewApp() {
  const { t } = useTranslation();
  const { message } = App.useApp();
  const navigate = useNavigate();
  const client = useQueryClient();
  const [open, setOpen] = useState(false);
  const [busy, setBusy] = useState(false);
  const [form] = Form.useForm<NewAppValues>();
  const submit = async (values: NewAppValues) => {
    setBusy(true);
    try {
      const created = await api.createApp(newAppDefinition(values.key, { zh: values.zh, en: values.en || values.zh }));
      await client.invalidateQueries({ queryKey: ["apps"] });
      setOpen(false);
      navigate(`/apps/${created.key}/${created.forms[0].key}/design`);
    } catch (error) {
      if (error instanceof ApiError && error.issues.length) {
        const at = (path: string): "key" | "zh" | null => (path === "key" ? "key" : path.startsWith("name") ? "zh" : null);
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
      <Button type="primary" icon={<PlusOutlined />} onClick={() => setOpen(true)} data-testid="new-app">
        {t("newApp.open")}
      </Button>
      <Modal open={open} title={t("newApp.title")} okText={t("newApp.create")} confirmLoading={busy} onOk={() => form.submit()} onCancel={() => setOpen(false)} destroyOnHidden okButtonProps={{ "data-testid": "new-app-create" } as Record<string, string>}>
        <Form form={form} layout="vertical" onFinish={submit} preserve={false}>
          <Form.Item name="key" label={t("newApp.key")} rules={[{ required: true, pattern: /^[a-z][a-z0-9_]*$/ }]}>
            <Input data-testid="new-app-key" />
          </Form.Item>
          <Form.Item name="zh" label={t("newApp.nameZh")} rules={[{ required: true }]}>
            <Input data-testid="new-app-zh" />
          </Form.Item>
          <Form.Item name="en" label={t("newApp.nameEn")}>
            <Input data-testid="new-app-en" />
          </Form.Item>
        </Form>
      </Modal>
    </>
  );
}
