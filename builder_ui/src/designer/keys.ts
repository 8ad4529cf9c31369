/**
 * Readable keys from labels: the key a new field, option or form gets from what the builder
 * names it — pinyin for Chinese (客户名称 → `kehu_mingcheng`, two characters a word), lower
 * snake case for English (Customer name → `customer_name`) — unique within its scope and valid
 * for the engine's key rule (`^[a-z][a-z0-9_]{0,40}$`). A key follows its label only while it is
 * still the one generated (a key typed by hand, or a published one, stays).
 */
import { pinyin } from "pinyin-pro";
import type { FieldDef, Label, SelectOption } from "../api/types";

/** The engine's rule for field, form and app keys (engine/forms/common.py KEY_PATTERN). */
export const KEY_RULE = /^[a-z][a-z0-9_]{0,40}$/;
/** Longer slugs use the initials of the pinyin syllables (下次跟进日期 → `xcgjrq`). */
const MAX_SLUG = 32;
const HAN = /\p{Script=Han}/u;

/** The slug of `text`: pinyin words / English words joined by `_`, or "" when nothing is left. */
export function slug(text: string): string {
  const words: string[] = [];
  const initials: string[] = [];
  // Runs of Chinese characters and runs of anything else.
  for (const run of text.trim().match(/\p{Script=Han}+|[^\p{Script=Han}]+/gu) ?? []) {
    if (HAN.test(run)) {
      const syllables = pinyin(run, { toneType: "none", type: "array", v: true }).map((s) => s.toLowerCase().replace(/[^a-z]/g, ""));
      for (let i = 0; i < syllables.length; i += 2) words.push(syllables.slice(i, i + 2).join(""));
      initials.push(syllables.map((s) => s[0] ?? "").join(""));
    } else {
      const ascii = run
        .normalize("NFKD")
        .toLowerCase()
        .replace(/[^a-z0-9]+/g, " ")
        .trim();
      if (ascii) {
        words.push(...ascii.split(" "));
        initials.push(ascii.replace(/ /g, "_"));
      }
    }
  }
  let out = words.filter(Boolean).join("_");
  if (out.length > MAX_SLUG) out = initials.filter(Boolean).join("_").slice(0, MAX_SLUG);
  out = out.replace(/_+/g, "_").replace(/^_|_$/g, "");
  if (!out) return "";
  if (!/^[a-z]/.test(out)) out = `f_${out}`;
  return out.slice(0, 41).replace(/_$/, "");
}

/** `base` made unique among `taken` (`base`, `base_2`, `base_3`, ...), kept within the key rule. */
export function uniqueKey(base: string, taken: Iterable<string>): string {
  const used = new Set(taken);
  if (!used.has(base)) return base;
  for (let n = 2; ; n++) {
    const suffix = `_${n}`;
    const key = `${base.slice(0, 41 - suffix.length)}${suffix}`;
    if (!used.has(key)) return key;
  }
}

/** The text a key is made from: the Chinese label, else the English one. */
function labelSource(label: Label | undefined): string {
  if (!label) return "";
  if (typeof label === "string") return label;
  return label.zh || label.en || "";
}

/** A unique key from `label`, or `fallback` (already unique) when the label gives no slug. */
export function keyFromLabel(label: Label | undefined, taken: Iterable<string>, fallback: string): string {
  const base = slug(labelSource(label));
  return base ? uniqueKey(base, taken) : fallback;
}

/** The key is one the designer generated (from the type, `text_1`, or from `label`), not typed by hand. */
export function isGeneratedKey(key: string, type: string, label: Label | undefined, taken: Iterable<string>): boolean {
  const typeBase = type.replace(/[^a-z0-9_]/g, "_");
  if (new RegExp(`^${typeBase}_\\d+$`).test(key)) return true;
  const base = slug(labelSource(label));
  if (!base) return false;
  return key === base || key === uniqueKey(base, taken) || new RegExp(`^${base.slice(0, 38)}_\\d+$`).test(key);
}

/**
 * `field`'s label with the text in `lang` set to `text`. The other language's label is dropped
 * when it is still the type's name (`typeTitle`), so a missing English label shows the Chinese
 * one rather than "Text".
 */
export function relabel(field: FieldDef, lang: "zh" | "en", text: string, typeTitle?: { zh: string; en: string }): Label {
  const before = field.label;
  const label: { zh?: string | null; en?: string | null } = typeof before === "string" ? { zh: before } : { ...(before ?? {}) };
  label[lang] = text;
  if (!label[lang]) delete label[lang];
  const other = lang === "zh" ? "en" : "zh";
  if (typeTitle && label[other] === typeTitle[other]) delete label[other];
  return label;
}

/**
 * The key `field` should have once its label changed from `previous` (when the label input
 * loses focus): a key generated from the type or from `previous` follows the new label, a key
 * typed by hand or published (`keyFixed`) stays. `taken`: the keys of its siblings.
 */
export function followKey(field: FieldDef, previous: Label | undefined, taken: Iterable<string>, keyFixed: boolean): string {
  const others = [...taken].filter((k) => k !== field.key);
  if (keyFixed || !isGeneratedKey(field.key, field.type, previous, others)) return field.key;
  return keyFromLabel(field.label, others, field.key);
}

/** A value for a new option, not used by `options`: from `label` when it gives one, else `option<n>`. */
export function optionValueFrom(label: Label | undefined, options: SelectOption[], fallback: string): string {
  return keyFromLabel(label, options.map((o) => o.value), fallback);
}

/**
 * `options` with option `index`'s label in `lang` set to `text`; an English label equal to the
 * old value placeholder is dropped, and the value follows the label while it is a generated one
 * (`option2`, or the slug of the old label) and not in `fixed` (values already published).
 */
export function relabelOption(options: SelectOption[], index: number, lang: "zh" | "en", text: string, fixed: Set<string>): SelectOption[] {
  return options.map((o, i) => {
    if (i !== index) return o;
    const base = typeof o.label === "string" ? { zh: o.label } : { ...(o.label ?? {}) };
    const label: { zh?: string | null; en?: string | null } = { ...base, [lang]: text };
    if (!label[lang]) delete label[lang];
    const other = lang === "zh" ? "en" : "zh";
    if (label[other] === o.value && /^option\d+$/.test(o.value)) delete label[other];
    const next: SelectOption = { ...o };
    if (Object.keys(label).length) next.label = label;
    else delete next.label;
    const others = options.filter((_, j) => j !== index).map((x) => x.value);
    const generated = /^option\d+$/.test(o.value) || o.value === "a" || isGeneratedKey(o.value, "option", o.label, others);
    if (!fixed.has(o.value) && generated) next.value = keyFromLabel(label, others, o.value);
    return next;
  });
}

/** A key for a new form named `name`, unique among `taken` (`form<n>` when the name gives none). */
export function formKeyFromName(name: { zh?: string; en?: string }, taken: Iterable<string>, fallback: string): string {
  return keyFromLabel({ zh: name.zh || undefined, en: name.en || undefined }, taken, fallback);
}
