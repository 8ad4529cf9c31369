/**
 * 设计表单 · Design form: the field-type palette (left), the form's fields (centre) and the
 * selected field's properties (right). Publishing asks the server for the migration plan,
 * shows its steps for confirmation, then publishes with the confirmed plan's hash.
 */
import { ArrowDownOutlined, ArrowUpOutlined, DeleteOutlined, HolderOutlined, PlusOutlined } from "@ant-design/icons";
import { closestCenter, DndContext, KeyboardSensor, PointerSensor, useDraggable, useDroppable, useSensor, useSensors, type DragEndEvent } from "@dnd-kit/core";
import { SortableContext, sortableKeyboardCoordinates, useSortable, verticalListSortingStrategy } from "@dnd-kit/sortable";
import { CSS } from "@dnd-kit/utilities";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { Alert, App, Button, Card, Col, Empty, List, Modal, Result, Row, Space, Spin, Tag, Typography } from "antd";
import { useMemo, useState, type ReactNode } from "react";
import { useTranslation } from "react-i18next";
import { Link, useParams } from "react-router";
import { api, ApiError } from "../api/client";
import type { AppDef, FieldDef, Issue, MigrationPlan } from "../api/types";
import { useAuth } from "../auth/AuthContext";
import {
  addField,
  buildDefinition,
  dropOnList,
  issuesByField,
  moveField,
  PALETTE_DRAG,
  removeField,
  updateField,
  type PaletteGroup,
  type PaletteType,
} from "../designer/state";
import { labelText } from "../forms/labels";
import PropertyPanel from "../designer/PropertyPanel";
import { findForm, useApp } from "./appContext";

export default function DesignerPage() {
  const { user } = useAuth();
  const { app } = useApp();
  const { form: formKey } = useParams();
  const form = findForm(app, formKey);
  const { t } = useTranslation();
  if (!user?.is_admin) return <Result status="403" title={t("errors.forbidden")} />;
  if (!form) return <Result status="404" title={t("errors.notFound")} />;
  return <Designer key={`${app.key}/${form.key}/${app._revision}`} app={app} formKey={form.key} />;
}

function Designer({ app, formKey }: { app: AppDef; formKey: string }) {
  const { t, i18n } = useTranslation();
  const lang = i18n.language === "en" ? "en" : "zh";
  const { message } = App.useApp();
  const client = useQueryClient();
  const published = findForm(app, formKey)!;
  const publishedKeys = useMemo(() => new Set(published.fields.map((f) => f.key)), [published]);
  const palette = useQuery({ queryKey: ["field-types"], queryFn: api.fieldTypes, staleTime: Infinity });
  const [fields, setFields] = useState<FieldDef[]>(published.fields);
  const [selected, setSelected] = useState<string | null>(published.fields[0]?.key ?? null);
  const [issues, setIssues] = useState<Issue[]>([]);
  const [plan, setPlan] = useState<MigrationPlan | null>(null);
  const [busy, setBusy] = useState(false);
  const [conflict, setConflict] = useState(false);

  const kinds = useMemo(() => new Map((palette.data ?? []).flatMap((g: PaletteGroup) => g.types.map((k) => [k.type, k] as const))), [palette.data]);
  const typeTitle = (type: string) => labelText(kinds.get(type)?.title, lang, type);
  const byField = issuesByField(issues, app, formKey, fields);
  const field = fields.find((f) => f.key === selected);
  const fieldIssues = field ? (byField[field.key] ?? []) : [];

  const add = (kind: PaletteType) => {
    const result = addField(fields, kind);
    setFields(result.fields);
    setSelected(result.key);
  };
  const sensors = useSensors(
    // A press becomes a drag only after 5 px, so clicking a palette item or a field still works.
    useSensor(PointerSensor, { activationConstraint: { distance: 5 } }),
    useSensor(KeyboardSensor, { coordinateGetter: sortableKeyboardCoordinates }),
  );
  const dragEnd = ({ active, over }: DragEndEvent) => {
    const result = over ? dropOnList(fields, String(active.id), String(over.id), kinds) : null;
    if (!result) return;
    setFields(result.fields);
    if (result.added) setSelected(result.added);
  };
  const patch = (change: Partial<FieldDef>) => field && setFields(updateField(fields, field.key, change));

  const definition = () => buildDefinition(app, formKey, fields);
  const failed = (error: unknown) => {
    if (error instanceof ApiError && error.status === 409) setConflict(true);
    else if (error instanceof ApiError && error.issues.length) {
      setIssues(error.issues);
      const first = issuesByField(error.issues, app, formKey, fields);
      const key = Object.keys(first)[0];
      if (key) setSelected(key);
      message.error(t("designer.fix"));
    } else message.error(error instanceof Error ? error.message : t("errors.generic"));
  };
  const askPlan = async () => {
    setBusy(true);
    setIssues([]);
    try {
      setPlan(await api.plan(app.key, definition()));
    } catch (error) {
      failed(error);
    } finally {
      setBusy(false);
    }
  };
  const publish = async () => {
    if (!plan) return;
    setBusy(true);
    try {
      const saved = await api.publish(app.key, definition(), plan.plan_hash);
      setPlan(null);
      client.setQueryData(["app", app.key], { ...saved, plan: undefined });
      await client.invalidateQueries({ queryKey: ["records", app.key, formKey] });
      await client.invalidateQueries({ queryKey: ["live", app.key, formKey] });
      message.success(t("designer.published"));
    } catch (error) {
      setPlan(null);
      failed(error);
    } finally {
      setBusy(false);
    }
  };
  const reload = async () => {
    setConflict(false);
    await client.invalidateQueries({ queryKey: ["app", app.key] });
  };

  const stepText = (step: MigrationPlan["steps"][number]) => (lang === "en" ? step.message.en : step.message.zh) ?? step.op;

  return (
    <>
      <Space style={{ display: "flex", justifyContent: "space-between", marginBottom: 12 }} wrap>
        <Typography.Title level={3} style={{ margin: 0 }}>
          {t("designer.title")} · {labelText(published.name, lang, formKey)}
        </Typography.Title>
        <Space>
          <Link to={`/apps/${app.key}/${formKey}`}>{t("designer.back")}</Link>
          <Button type="primary" loading={busy} onClick={askPlan} data-testid="designer-publish">
            {t("designer.publish")}
          </Button>
        </Space>
      </Space>
      {conflict && (
        <Alert
          type="warning"
          showIcon
          style={{ marginBottom: 12 }}
          message={t("designer.conflict")}
          action={<Button size="small" onClick={reload} data-testid="designer-reload">{t("designer.reload")}</Button>}
          data-testid="designer-conflict"
        />
      )}
      <DndContext sensors={sensors} collisionDetection={closestCenter} onDragEnd={dragEnd}>
      <Row gutter={[16, 16]}>
        <Col xs={24} md={6}>
          <Card size="small" title={t("designer.palette")} data-testid="designer-palette">
            {palette.isPending && <Spin />}
            {(palette.data ?? []).map((group) => (
              <div key={group.group} style={{ marginBottom: 12 }}>
                <Typography.Text type="secondary">{labelText(group.title, lang, group.group)}</Typography.Text>
                <div style={{ display: "flex", flexWrap: "wrap", gap: 6, marginTop: 4 }}>
                  {group.types.map((kind) => (
                    <PaletteItem key={kind.type} type={kind.type}>
                      <Button size="small" icon={<PlusOutlined />} onClick={() => add(kind)} data-testid={`palette-${kind.type}`}>
                        {labelText(kind.title, lang, kind.type)}
                      </Button>
                    </PaletteItem>
                  ))}
                </div>
              </div>
            ))}
          </Card>
        </Col>
        <Col xs={24} md={10}>
          <Card size="small" title={t("designer.fields", { count: fields.length })}>
            {fields.length === 0 ? (
              <EmptyDrop>
                <Empty description={t("designer.empty")} />
              </EmptyDrop>
            ) : (
              <SortableContext items={fields.map((f) => f.key)} strategy={verticalListSortingStrategy}>
              <List
                dataSource={fields}
                rowKey="key"
                renderItem={(f, index) => (
                  <SortableRow key={f.key} id={f.key}>
                  <List.Item
                    onClick={() => setSelected(f.key)}
                    data-testid={`designer-field-${f.key}`}
                    style={{
                      cursor: "pointer",
                      paddingInline: 8,
                      background: f.key === selected ? "#e6f4ff" : undefined,
                      borderInlineStart: byField[f.key] ? "3px solid #ff4d4f" : "3px solid transparent",
                    }}
                    actions={[
                      <Button key="up" size="small" type="text" icon={<ArrowUpOutlined />} disabled={index === 0} aria-label={t("designer.up")}
                        onClick={(e) => { e.stopPropagation(); setFields(moveField(fields, index, index - 1)); }} />,
                      <Button key="down" size="small" type="text" icon={<ArrowDownOutlined />} disabled={index === fields.length - 1} aria-label={t("designer.down")}
                        onClick={(e) => { e.stopPropagation(); setFields(moveField(fields, index, index + 1)); }} />,
                      <Button key="delete" size="small" type="text" danger icon={<DeleteOutlined />} aria-label={t("designer.remove")} data-testid={`designer-remove-${f.key}`}
                        onClick={(e) => { e.stopPropagation(); setFields(removeField(fields, f.key)); if (selected === f.key) setSelected(null); }} />,
                    ]}
                  >
                    <Space>
                      <HolderOutlined style={{ cursor: "grab", color: "#999" }} />
                      <span>{labelText(f.label, lang, f.key)}</span>
                      {f.required && <Typography.Text type="danger">*</Typography.Text>}
                      <Tag>{typeTitle(f.type)}</Tag>
                      <Typography.Text type="secondary" style={{ fontSize: 12 }}>{f.key}</Typography.Text>
                    </Space>
                  </List.Item>
                  </SortableRow>
                )}
              />
              </SortableContext>
            )}
          </Card>
        </Col>
        <Col xs={24} md={8}>
          <PropertyPanel
            field={field}
            fields={fields}
            kinds={kinds}
            issues={fieldIssues}
            keyFixed={!!field && publishedKeys.has(field.key)}
            onPatch={patch}
            onReplace={(next) => {
              if (!field) return;
              if (next.key !== field.key && fields.some((f) => f.key === next.key)) return;
              setFields(fields.map((f) => (f.key === field.key ? next : f)));
              setSelected(next.key);
            }}
          />
        </Col>
      </Row>
      </DndContext>
      <Modal
        open={!!plan}
        title={t("designer.planTitle")}
        okText={t("designer.confirm")}
        cancelText={t("fill.cancel")}
        confirmLoading={busy}
        onOk={publish}
        onCancel={() => setPlan(null)}
        okButtonProps={{ "data-testid": "plan-confirm" } as Record<string, string>}
      >
        <div data-testid="plan-modal">
          {plan && plan.steps.length === 0 ? (
            <Typography.Text>{t("designer.noChanges")}</Typography.Text>
          ) : (
            <List size="small" dataSource={plan?.steps ?? []} renderItem={(step, i) => <List.Item key={i} data-testid="plan-step">{stepText(step)}</List.Item>} />
          )}
        </div>
      </Modal>
    </>
  );
}

/** A palette entry that can be dragged onto the field list (a click still adds at the end). */
function PaletteItem({ type, children }: { type: string; children: ReactNode }) {
  const { attributes, listeners, setNodeRef, transform, isDragging } = useDraggable({ id: PALETTE_DRAG + type });
  return (
    <span
      ref={setNodeRef}
      {...attributes}
      {...listeners}
      tabIndex={-1}
      style={{ transform: CSS.Translate.toString(transform), zIndex: isDragging ? 10 : undefined, position: "relative", display: "inline-block" }}
    >
      {children}
    </span>
  );
}

/** A field row that can be dragged to another place in the list. */
function SortableRow({ id, children }: { id: string; children: ReactNode }) {
  const { attributes, listeners, setNodeRef, transform, transition, isDragging } = useSortable({ id });
  return (
    <div
      ref={setNodeRef}
      {...attributes}
      {...listeners}
      style={{ transform: CSS.Transform.toString(transform), transition, opacity: isDragging ? 0.6 : 1, background: "#fff" }}
    >
      {children}
    </div>
  );
}

/** The empty list as a drop target, so the first field can be dragged in too. */
function EmptyDrop({ children }: { children: ReactNode }) {
  const { setNodeRef, isOver } = useDroppable({ id: "field-list" });
  return (
    <div ref={setNodeRef} data-testid="designer-drop" style={{ padding: 16, borderRadius: 6, outline: isOver ? "2px dashed #1677ff" : undefined }}>
      {children}
    </div>
  );
}
