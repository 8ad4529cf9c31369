/** My apps: every installed app I may use, as cards. */
import { AppstoreOutlined } from "@ant-design/icons";
import { useQuery } from "@tanstack/react-query";
import { Card, Col, Empty, Row, Spin, Typography } from "antd";
import { useTranslation } from "react-i18next";
import { Link } from "react-router";
import { api } from "../api/client";
import { useAuth } from "../auth/AuthContext";
import { labelText } from "../forms/labels";

export default function HomePage() {
  const { t, i18n } = useTranslation();
  const { user } = useAuth();
  const apps = useQuery({ queryKey: ["apps"], queryFn: api.apps });
  if (apps.isPending) return <Spin />;
  return (
    <>
      <Typography.Title level={3}>{t("home.title")}</Typography.Title>
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
