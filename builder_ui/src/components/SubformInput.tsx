/** The rows of a subform on the fill page: one card per row (phone-friendly), add and remove.
 *
 * Each row keeps one identity while the user works on it (its React key and the target of its
 * inputs' changes), so an upload that finishes after rows were added or removed lands in the row
 * it was picked in, and a change never restores the rows as they were when it started. */
import { DeleteOutlined, PlusOutlined } from "@ant-design/icons";
import { Button, Card, Col, Form, Row, Typography } from "antd";
import { useRef } from "react";
import { useTranslation } from "react-i18next";
import type { AppDef, FieldDef } from "../api/types";
import { isComputed, LAYOUT_TYPES } from "../forms/fieldTypes";
import { fieldLabel } from "../forms/labels";
import type { RuleResult } from "../forms/live";
import { literalDefault } from "../forms/submit";
import FieldInput, { EDITABLE_TYPES } from "./FieldInput";
import FieldValue from "./FieldValue";

type Values = Record<string, unknown>;

interface Props {
  app: AppDef;
  field: FieldDef;
  value: unknown;
  onChange(rows: Values[]): void;
  results: RuleResult[];
  /** Result type of each live row formula (to show it like a value of that type). */
  types: Record<string, string>;
  disabled?: boolean;
}

export default function SubformInput({ app, field, value, onChange, results, types, disabled }: Props) {
  const { t, i18n } = useTranslation();
  const rows = Array.isArray(value) ? (value as Values[]) : [];
  const subfields = (field.fields ?? []).filter((f) => !LAYOUT_TYPES.has(f.type));
  // Rows as the latest change left them (ahead of `value` until the page re-renders).
  const latest = useRef(rows);
  const given = useRef(value);
  if (given.current !== value) {
    given.current = value;
    latest.current = rows;
  }
  const keys = useRef(new WeakMap<Values, string>());
  const made = useRef(0);
  const keyOf = (row: Values): string => {
    let key = keys.current.get(row);
    if (key === undefined) {
      key = row._id !== undefined ? `id-${String(row._id)}` : `new-${++made.current}`;
      keys.current.set(row, key);
    }
    return key;
  };
  const commit = (next: Values[]) => {
    latest.current = next;
    onChange(next);
  };
  const update = (rowKey: string, key: string, v: unknown) =>
    commit(
      latest.current.map((row) => {
        if (keyOf(row) !== rowKey) return row;
        const changed = { ...row, [key]: v };
        keys.current.set(changed, rowKey);
        return changed;
      }),
    );
  const add = () => {
    const row: Values = {};
    for (const sub of subfields) {
      const d = literalDefault(sub);
      if (d !== undefined) row[sub.key] = d;
    }
    commit([...latest.current, row]);
  };
  const remove = (rowKey: string) => commit(latest.current.filter((row) => keyOf(row) !== rowKey));
  return (
    <div data-testid={`subform-${field.key}`} style={{ width: "100%" }}>
      {rows.map((row, index) => {
        const result = results[index];
        const rowKey = keyOf(row);
        return (
          <Card
            key={rowKey}
            size="small"
            style={{ marginBottom: 8 }}
            title={`#${index + 1}`}
            data-testid={`subform-${field.key}-row-${index}`}
            extra={
              !disabled && (
                <Button type="text" size="small" icon={<DeleteOutlined />} aria-label={t("fill.removeRow")} onClick={() => remove(rowKey)} />
              )
            }
          >
            <Row gutter={8}>
              {subfields
                .filter((sub) => result?.visible[sub.key] !== false)
                .map((sub) => {
                  const live = sub.key in (result?.computed ?? {});
                  const cell = live ? result.computed[sub.key] : row[sub.key];
                  const locked = disabled || result?.readonly[sub.key] === true || !EDITABLE_TYPES.has(sub.type);
                  return (
                    <Col key={sub.key} xs={24} sm={12} md={6}>
                      <Form.Item label={fieldLabel(sub, i18n.language)} htmlFor={`field-input-${field.key}-${index}-${sub.key}`} required={!!sub.required} style={{ marginBottom: 8 }}>
                        {isComputed(sub) ? (
                          <Typography.Text strong data-testid={`computed-${field.key}-${index}-${sub.key}`}>
                            <FieldValue field={{ ...sub, type: types[sub.key] ?? sub.type }} value={cell} />
                          </Typography.Text>
                        ) : (
                          <FieldInput
                            app={app}
                            field={sub}
                            value={cell}
                            disabled={locked}
                            idPrefix={`field-input-${field.key}-${index}-`}
                            onChange={(v) => update(rowKey, sub.key, v)}
                          />
                        )}
                      </Form.Item>
                    </Col>
                  );
                })}
            </Row>
          </Card>
        );
      })}
      {!disabled && (
        <Button type="dashed" block icon={<PlusOutlined />} onClick={add} data-testid={`subform-${field.key}-add`}>
          {t("fill.addRow")}
        </Button>
      )}
    </div>
  );
}
