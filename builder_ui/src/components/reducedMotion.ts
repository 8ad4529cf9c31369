/**
 * 减少动态效果 · Reduced motion: whether the person asked their system for less motion
 * (`prefers-reduced-motion: reduce`, an accessibility setting on every desktop and phone OS).
 * When they did, the app turns antd's motion off — dialogs, popovers, drawers and menus appear
 * at once instead of zooming or sliding in.
 */
import { useSyncExternalStore } from "react";
import type { ThemeConfig } from "antd";

const QUERY = "(prefers-reduced-motion: reduce)";

function subscribe(changed: () => void): () => void {
  const list = window.matchMedia?.(QUERY);
  if (!list) return () => undefined;
  list.addEventListener("change", changed);
  return () => list.removeEventListener("change", changed);
}

const reducedNow = (): boolean => !!window.matchMedia?.(QUERY).matches;

/** Whether the system asks for reduced motion now (follows the setting while the app runs). */
export function useReducedMotion(): boolean {
  return useSyncExternalStore(subscribe, reducedNow, () => false);
}

/** The antd theme for that setting: motion off when reduced, antd's own defaults otherwise. */
export function motionTheme(reduced: boolean): ThemeConfig | undefined {
  return reduced ? { token: { motion: false } } : undefined;
}
