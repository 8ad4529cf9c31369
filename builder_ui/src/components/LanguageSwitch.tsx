/** Switches the UI between Chinese and English (remembered in the browser). */
import { Button } from "antd";
import { useTranslation } from "react-i18next";
import { setLanguage } from "../i18n";

export default function LanguageSwitch({ dark = false }: { dark?: boolean }) {
  const { t, i18n } = useTranslation();
  return (
    <Button
      type={dark ? "text" : "default"}
      size="small"
      style={dark ? { color: "#fff" } : undefined}
      onClick={() => setLanguage(i18n.language === "en" ? "zh-CN" : "en")}
      data-testid="language-switch"
    >
      {t("nav.language")}
    </Button>
  );
}
