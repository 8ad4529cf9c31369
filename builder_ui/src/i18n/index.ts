/** i18next set-up: Chinese (zh-CN) by default, English on request; the choice is remembered. */
import i18n from "i18next";
import { initReactI18next } from "react-i18next";
import { enPlurals, merged } from "./fixMessages";
import { en, zh } from "./messages";

export const LANG_KEY = "jimu.lang";
export type Lang = "zh-CN" | "en";

function initial(): Lang {
  const stored = typeof localStorage !== "undefined" ? localStorage.getItem(LANG_KEY) : null;
  return stored === "en" ? "en" : "zh-CN";
}

void i18n.use(initReactI18next).init({
  resources: { "zh-CN": { translation: zh }, en: { translation: merged(en, enPlurals) } },
  lng: initial(),
  fallbackLng: "zh-CN",
  interpolation: { escapeValue: false },
});

export function setLanguage(lang: Lang): void {
  localStorage.setItem(LANG_KEY, lang);
  void i18n.changeLanguage(lang);
  document.documentElement.lang = lang;
}

export default i18n;
