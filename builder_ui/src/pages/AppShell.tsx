/** The signed-in frame: header with navigation, the approval inbox and the bell, language
 * switch and the user menu. While the password an administrator set must be changed
 * (`must_change_password`), only the change-password dialog and signing out are offered: the
 * server refuses everything else until then. */
import { AppstoreOutlined, DownOutlined, ShopOutlined, UserOutlined } from "@ant-design/icons";
import { Button, Dropdown, Layout } from "antd";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { Link, Outlet, useLocation, useNavigate } from "react-router";
import { useAuth } from "../auth/AuthContext";
import ErrorBoundary from "../components/ErrorBoundary";
import LanguageSwitch from "../components/LanguageSwitch";
import PasswordModal from "../components/PasswordModal";
import Bell, { InboxLink } from "../inbox/Bell";

export default function AppShell() {
  const { t } = useTranslation();
  const { user, logout } = useAuth();
  const navigate = useNavigate();
  const location = useLocation();
  const [password, setPassword] = useState(false);
  const name = user?.display_name || user?.username;
  const held = Boolean(user?.must_change_password);
  const signOut = async () => {
    await logout();
    navigate("/login", { replace: true });
  };
  return (
    <Layout style={{ minHeight: "100vh" }}>
      <Layout.Header className="jimu-header">
        <span className="jimu-brand">
          <Link to="/">{t("brand")}</Link>
        </span>
        <Link to="/" style={{ color: "#fff" }}>
          <AppstoreOutlined /> <span className="jimu-nav-text">{t("nav.apps")}</span>
        </Link>
        {user?.is_admin && (
          <Link to="/catalog" style={{ color: "#fff" }} data-testid="nav-catalog">
            <ShopOutlined /> <span className="jimu-nav-text">{t("nav.catalog")}</span>
          </Link>
        )}
        {!held && <InboxLink />}
        <span style={{ flex: 1 }} />
        {!held && <Bell />}
        <LanguageSwitch dark />
        <Dropdown
          trigger={["click"]}
          menu={{
            items: [
              ...(user?.is_admin ? [{ key: "org", label: <span data-testid="nav-org">{t("org.open")}</span>, onClick: () => navigate("/admin/org") }] : []),
              { key: "password", label: t("nav.password"), onClick: () => setPassword(true) },
              { key: "logout", label: t("nav.logout"), onClick: signOut },
            ],
          }}
        >
          <Button type="text" style={{ color: "#fff" }} data-testid="user-menu">
            <UserOutlined /> <span className="jimu-nav-text">{name}</span> <DownOutlined />
          </Button>
        </Dropdown>
      </Layout.Header>
      <Layout.Content className="jimu-content">
        {!held && (
          <ErrorBoundary resetKey={location.pathname}>
            <Outlet />
          </ErrorBoundary>
        )}
      </Layout.Content>
      <PasswordModal open={password || held} forced={held} onSignOut={() => void signOut()} onClose={() => setPassword(false)} />
    </Layout>
  );
}
