/** My apps: every installed app I may use, as cards; administrators also start a new app here. */
import { AppstoreOutlined, PlusOutlined, TeamOutlined } from "@ant-design/icons";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { Button, Card, Col, Empty, Row, Space, Spin, Typography } from "antd";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { Link, useNavigate } from "react-router";
import { api } from "../api/client";
import KeyNameDialog, { type KeyName } from "../components/KeyNameDialog";
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
        {user?.is_admin && (
          <Space wrap>
            <Link to="/admin/org" data-testid="home-org">
              <Button icon={<TeamOutlined />}>{t("org.open")}</Button>
            </Link>
            <NewApp />
          </Space>
        )}
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

/** "New app": a key and a name make an app with one empty form, opened in the form designer. */
function NewApp() {
  const { t } = useTranslation();
  const navigate = useNavigate();
  const client = useQueryClient();
  const [open, setOpen] = useState(false);
  const create = async (values: KeyName) => {
    const created = await api.createApp(newAppDefinition(values.key, { zh: values.zh, en: values.en }));
    await client.invalidateQueries({ queryKey: ["apps"] });
    setOpen(false);
    navigate(`/apps/${created.key}/${created.forms[0].key}/design`);
  };
  return (
    <>
      <Button type="primary" icon={<PlusOutlined />} onClick={() => setOpen(true)} data-testid="new-app">
        {t("newApp.open")}
      </Button>
      <KeyNameDialog
        open={open}
        title={t("newApp.title")}
        okText={t("newApp.create")}
        keyLabel={t("newApp.key")}
        testId="new-app"
        fieldOf={(path) => (path === "key" ? "key" : path.startsWith("name") ? "zh" : null)}
        onCancel={() => setOpen(false)}
        onSubmit={create}
      />
    </>
  );
}
