/** An app's home: my open tasks of the app (我的待办) when there are any, one-tap "add" entries
 * for every form I may create in (first on a phone, 44 px and up; they open the fill page with
 * my usual values, forms/phone.ts), and its forms as cards. */
import { ApartmentOutlined, PlusOutlined, SafetyOutlined, TableOutlined, ThunderboltOutlined } from "@ant-design/icons";
import { useQueries, useQuery } from "@tanstack/react-query";
import { Badge, Button, Card, Col, List, Row, Space, Tag, Typography } from "antd";
import { useTranslation } from "react-i18next";
import { Link, useNavigate } from "react-router";
import { api } from "../api/client";
import { useAuth } from "../auth/AuthContext";
import { formUse, useAppMenu } from "../forms/appMenu";
import { labelText } from "../forms/labels";
import { inboxApi, nameText, titleText } from "../inbox/api";
import NewFormButton from "./NewFormButton";
import { menuEntries, useApp } from "./appContext";

export default function AppHome() {
  const { t, i18n } = useTranslation();
  const { app } = useApp();
  const navigate = useNavigate();
  const { user } = useAuth();
  const menu = useAppMenu(app);
  // Forms the user can neither read nor fill in are left out (issue 16).
  const entries = menuEntries(app).filter((entry) => {
    const use = formUse(menu.data, entry.form);
    return use.read || use.create;
  });
  const permissions = useQueries({
    queries: entries.map((entry) => ({
      queryKey: ["permissions", app.key, entry.form],
      queryFn: () => api.permissions(app.key, entry.form),
    })),
  });
  const open = useQuery({ queryKey: ["tasks", "open", "home"], queryFn: () => inboxApi.tasks("open", 200) });
  const mine = (open.data?.items ?? []).filter((task) => task.app === app.key);
  const label = (entry: (typeof entries)[number]) =>
    labelText(entry.label ?? app.forms.find((f) => f.key === entry.form)?.name, i18n.language, entry.form);
  return (
    <div className="jimu-home">
      <Space className="jimu-home-title" style={{ display: "flex", justifyContent: "space-between" }} wrap>
        <Typography.Title level={3}>{labelText(app.name, i18n.language, app.key)}</Typography.Title>
        {user?.is_admin && (
          <Space wrap>
            <Button icon={<SafetyOutlined />} onClick={() => navigate(`/apps/${app.key}/_roles`)} data-testid="open-roles">
              {t("roles.open")}
            </Button>
            <Button icon={<ApartmentOutlined />} onClick={() => navigate(`/apps/${app.key}/_flows`)} data-testid="open-flows">
              {t("flows.open")}
            </Button>
            <Button icon={<ThunderboltOutlined />} onClick={() => navigate(`/apps/${app.key}/_rules`)} data-testid="open-rules">
              {t("rules.open")}
            </Button>
            <NewFormButton app={app} />
          </Space>
        )}
      </Space>
      {mine.length > 0 && (
        <Card
          size="small"
          style={{ marginBottom: 16 }}
          data-testid="home-tasks"
          title={
            <Space>
              {t("inbox.myTasks")}
              <Badge count={mine.length} />
            </Space>
          }
          extra={<Link to="/inbox">{t("inbox.allTasks")}</Link>}
        >
          <List
            size="small"
            dataSource={mine.slice(0, 5)}
            renderItem={(task) => (
              <List.Item style={{ cursor: "pointer" }} onClick={() => navigate(`/inbox?task=${task.id}`)} data-testid={`home-task-${task.id}`}>
                <Typography.Link>{titleText(task)}</Typography.Link>
                <Typography.Text type="secondary">
                  {nameText(task.node_name, i18n.language, task.node)} · {task.initiator?.name ?? ""}
                </Typography.Text>
              </List.Item>
            )}
          />
        </Card>
      )}
      <section className="jimu-quick-add" data-testid="quick-add">
        <Typography.Text type="secondary">{t("app.quickAdd")}</Typography.Text>
        <div className="jimu-quick-add-list">
          {entries.map((entry, i) =>
            permissions[i].data?.actions.includes("create") ? (
              <Button
                key={entry.form}
                className="jimu-quick-entry"
                icon={<PlusOutlined />}
                aria-label={t("phone.quickAddEntry", { form: label(entry) })}
                // `quick`: the fill page starts with the caller's usual values (forms/phone.ts).
                onClick={() => navigate(`/apps/${app.key}/${entry.form}/new`, { state: { quick: true } })}
                data-testid={`quick-add-${entry.form}`}
              >
                {label(entry)}
              </Button>
            ) : null,
          )}
        </div>
      </section>
      <Row gutter={[16, 16]}>
        {entries.map((entry) => (
          <Col key={entry.form} xs={12} sm={8} lg={6}>
            <Link to={`/apps/${app.key}/${entry.form}${formUse(menu.data, entry.form).read ? "" : "/new"}`} data-testid={`home-form-${entry.form}`}>
              <Card hoverable size="small">
                <TableOutlined /> {label(entry)}
                {!formUse(menu.data, entry.form).read && <Tag style={{ marginInlineStart: 8 }}>{t("fix.fillOnly")}</Tag>}
              </Card>
            </Link>
          </Col>
        ))}
      </Row>
    </div>
  );
}
