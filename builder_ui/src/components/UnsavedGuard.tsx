/**
 * Guards unsaved work in a designer (forms, flows): leaving inside the app asks first
 * (react-router's blocker), closing or reloading the tab too (beforeunload). Owns the
 * "leave without saving?" dialog and its test ids.
 */
import { Modal } from "antd";
import { useEffect } from "react";
import { useTranslation } from "react-i18next";
import { useBlocker } from "react-router";

export function UnsavedGuard({ dirty }: { dirty: boolean }) {
  const { t } = useTranslation();
  const blocker = useBlocker(({ currentLocation, nextLocation }) => dirty && currentLocation.pathname !== nextLocation.pathname);
  useEffect(() => {
    if (!dirty) return;
    const warn = (event: BeforeUnloadEvent) => event.preventDefault();
    window.addEventListener("beforeunload", warn);
    return () => window.removeEventListener("beforeunload", warn);
  }, [dirty]);
  return (
    <Modal
      open={blocker.state === "blocked"}
      title={t("canvas.leaveTitle")}
      okText={t("canvas.leave")}
      cancelText={t("canvas.stay")}
      okButtonProps={{ danger: true, "data-testid": "leave-confirm" }}
      cancelButtonProps={{ "data-testid": "leave-cancel" }}
      onOk={() => blocker.proceed?.()}
      onCancel={() => blocker.reset?.()}
    >
      <div data-testid="leave-modal">{t("canvas.leaveText")}</div>
    </Modal>
  );
}
