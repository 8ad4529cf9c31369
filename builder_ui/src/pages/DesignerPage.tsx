/**
 * 设计表单 · Design form: the field-type palette (left), the canvas (centre: the form laid out
 * by sections and widths, subforms with their own lists; designer/Canvas) and the selected
 * field's properties or the form's settings (right). Preview shows the draft as a user fills
 * it. Publishing asks the server for the migration plan, shows its steps for confirmation,
 * then publishes with the confirmed plan's hash. Leaving with unpublished changes asks first.
 */
import { EyeOutlined, PlusOutlined } from "@ant-design/icons";
import { DndContext, DragOverlay, KeyboardSensor, MouseSensor, TouchSensor, useDraggable, useSensor, useSensors, type DragEndEvent, type DragStartEvent } from "@dnd-kit/core";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { Alert, App, Button, Card, Col, List, Modal, Result, Row, Space, Spin, Tabs, Tag, Typography } from "antd";
import { useMemo, useState, type ReactNode } from "react";
import { useTranslation } from "react-i18next";
import { Link, useParams } from "react-router";
import { UnsavedGuard } from "../components/UnsavedGuard";
import { api, ApiError } from "../api/client";
import type { AppDef, FieldDef, Issue, MigrationPlan } from "../api/types";
import { useAuth } from "../auth/AuthContext";
import Canvas, { innermost } from "../designer/Canvas";
import { pruneCombinations, renameInCombinations } from "../designer/combinations";
import FormSettingsPanel from "../designer/FormSettingsPanel";
import PreviewModal from "../designer/PreviewModal";
import BackupsButton from "../designer/BackupsButton";
import { namedFailures, recordLink, valuesBackedUp } from "../designer/planLoss";
import PropertyPanel from "../designer/PropertyPanel";
import {
  addField,
  addSubField,
  buildDefinition,
  dropOnList,
  fieldAt,
  formIssues,
  isDirty,
  issuesByField,
  PALETTE_DRAG,
  parseSelection,
  patchAt,
  replaceAt,
  selectionId,
  siblings,
  SUB_DRAG,
  titleCandidates,
  type FormSettings,
  type PaletteGroup,
  type PaletteType,
  type Selection,
} from "../designer/state";
import { labelText } from "../forms/labels";
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
  const palette = useQuery({ queryKey: ["field-types"], queryFn: api.fieldTypes, staleTime: Infinity });
  const [fields, setFields] = useState<FieldDef[]>(published.fields);
  const [settings, setSettings] = useState<FormSettings>({ name: published.name, title_field: published.title_field ?? null, validations: published.validations ?? [], indexes: published.indexes ?? [] });
  const [selected, setSelectedState] = useState<Selection | null>(published.fields[0] ? { key: published.fields[0].key } : null);
  const [tab, setTab] = useState<"field" | "form">(published.fields[0] ? "field" : "form");
  const [issues, setIssues] = useState<Issue[]>([]);
  const [plan, setPlan] = useState<MigrationPlan | null>(null);
  const [busy, setBusy] = useState(false);
  const [conflict, setConflict] = useState(false);
  const [preview, setPreview] = useState(false);
  const [dragging, setDragging] = useState<string | null>(null);

  const kinds = useMemo(() => new Map((palette.data ?? []).flatMap((g: PaletteGroup) => g.types.map((k) => [k.type, k] as const))), [palette.data]);
  const typeTitle = (type: string) => labelText(kinds.get(type)?.title, lang, type);
  const byField = issuesByField(issues, app, formKey, fields);
  const field = fieldAt(fields, selected);
  const fieldIssues = selected ? (byField[selectionId(selected)] ?? []) : [];
  const publishedField = selected ? fieldAt(published.fields, selected) : undefined;
  const dirty = isDirty(published, fields, settings);

  const setSelected = (next: Selection | null) => {
    setSelectedState(next);
    setTab(next ? "field" : "form");
  };
  const refuse = () => message.error(t("canvas.nestedSubform"));
  // A palette click adds at the end of the form, or of the subform that (or whose field) is selected.
  const add = (kind: PaletteType) => {
    const parent = selected?.parent ?? (field?.type === "subform" ? field.key : undefined);
    if (parent) {
      const result = addSubField(fields, parent, kind);
      if ("refused" in result) return refuse();
      setFields(result.fields);
      setSelected({ parent, key: result.key });
      return;
    }
    const result = addField(fields, kind);
    setFields(result.fields);
    setSelected({ key: result.key });
    // On a phone the canvas is below the palette: show the new field where it landed.
    requestAnimationFrame(() => document.querySelector(`[data-testid="designer-field-${result.key}"]`)?.scrollIntoView({ block: "nearest" }));
  };
  const sensors = useSensors(
    // A press becomes a drag only after 5 px, so clicking a palette item or a field still works.
    useSensor(MouseSensor, { activationConstraint: { distance: 5 } }),
    // On touch screens a swipe scrolls; press and hold to drag.
    useSensor(TouchSensor, { activationConstraint: { delay: 250, tolerance: 5 } }),
    useSensor(KeyboardSensor),
  );
  const dragStart = ({ active }: DragStartEvent) => setDragging(String(active.id));
  const dragEnd = ({ active, over }: DragEndEvent) => {
    setDragging(null);
    const result = over ? dropOnList(fields, String(active.id), String(over.id), kinds) : null;
    if (!result) return;
    if ("refused" in result) return refuse();
    setFields(result.fields);
    if (result.added) setSelected({ key: result.added, parent: result.parent });
  };
  // Fields removed from the form leave its filter & sort combinations, with a notice (docs/decisions.md).
  const changeFields = (next: FieldDef[], renamed?: { from: string; to: string }) => {
    setFields(next);
    const before = settings.indexes ?? [];
    const renamedIn = renamed ? renameInCombinations(before, renamed.from, renamed.to) : before;
    const { combinations, removed } = pruneCombinations(renamedIn, next);
    if (JSON.stringify(combinations) !== JSON.stringify(before)) setSettings({ ...settings, indexes: combinations });
    if (removed.length) {
      const names = removed.map((key) => labelText(fields.find((f) => f.key === key)?.label, lang, key));
      message.info(t("canvas.combinationsPruned", { fields: names.join(lang === "en" ? ", " : "、") }));
    }
  };
  const patch = (change: Partial<FieldDef>) => selected && setFields(patchAt(fields, selected, change));
  const replace = (next: FieldDef) => {
    if (!selected) return;
    const replaced = replaceAt(fields, selected, next);
    if (!replaced) {
      if (selected.parent && next.type === "subform") refuse();
      return;
    }
    changeFields(replaced, selected.parent ? undefined : { from: selected.key, to: next.key });
    setSelectedState({ ...selected, key: next.key });
  };


  const definition = () => buildDefinition(app, formKey, fields, settings);
  const failed = (error: unknown) => {
    if (error instanceof ApiError && error.status === 409) setConflict(true);
    else if (error instanceof ApiError && error.issues.length) {
      setIssues(error.issues);
      const first = Object.keys(issuesByField(error.issues, app, formKey, fields))[0];
      if (first) setSelected(parseSelection(first));
      else if (formIssues(error.issues, app, formKey).length) setSelected(null);
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

  const lost = valuesBackedUp(plan);
  const stepText = (step: MigrationPlan["steps"][number]) => (lang === "en" ? step.message.en : step.message.zh) ?? step.op;
  const draft = definition();
  const draggedText = () => {
    if (!dragging) return null;
    if (dragging.startsWith(PALETTE_DRAG)) return typeTitle(dragging.slice(PALETTE_DRAG.length));
    const sel = dragging.startsWith(SUB_DRAG) ? (([parent, key]) => ({ parent, key }))(dragging.slice(SUB_DRAG.length).split(":")) : { key: dragging };
    const f = fieldAt(fields, sel);
    return f ? labelText(f.label, lang, f.key) : null;
  };

  return (
    <>
      <Space style={{ display: "flex", justifyContent: "space-between", marginBottom: 12 }} wrap>
        <Typography.Title level={3} style={{ margin: 0 }}>
          {t("designer.title")} · {labelText(settings.name, lang, formKey)}
          {dirty && (
            <Tag color="orange" style={{ marginInlineStart: 8, verticalAlign: "middle" }} data-testid="designer-dirty">
              {t("canvas.unpublished")}
            </Tag>
          )}
        </Typography.Title>
        <Space wrap>
          <Link to={`/apps/${app.key}/${formKey}`} data-testid="designer-back">
            {t("designer.back")}
          </Link>
          <BackupsButton app={app} formKey={formKey} />
          <Button icon={<EyeOutlined />} onClick={() => setPreview(true)} data-testid="designer-preview">
            {t("canvas.preview")}
          </Button>
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
          title={t("designer.conflict")}
          action={<Button size="small" onClick={reload} data-testid="designer-reload">{t("designer.reload")}</Button>}
          data-testid="designer-conflict"
        />
      )}
      <DndContext sensors={sensors} collisionDetection={innermost} onDragStart={dragStart} onDragEnd={dragEnd} onDragCancel={() => setDragging(null)}>
        <Row gutter={[16, 16]}>
          <Col xs={24} lg={5}>
            <Card size="small" title={t("designer.palette")} className="jimu-palette" data-testid="designer-palette">
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
          <Col xs={24} lg={12}>
            <Card size="small" title={t("designer.fields", { count: fields.filter((f) => f.type !== "section").length })}>
              <Canvas fields={fields} selected={selected} onSelect={setSelected} onChange={changeFields} byField={byField} typeTitle={typeTitle} />
            </Card>
          </Col>
          <Col xs={24} lg={7}>
            <Tabs
              size="small"
              activeKey={tab}
              onChange={(key) => setTab(key as "field" | "form")}
              items={[
                {
                  key: "field",
                  label: <span data-testid="designer-tab-field">{t("designer.properties")}</span>,
                  children: (
                    <PropertyPanel
                      field={field}
                      fields={selected ? siblings(fields, selected) : fields}
                      kinds={kinds}
                      issues={fieldIssues}
                      keyFixed={!!publishedField}
                      publishedOptions={publishedField?.options?.map((o) => o.value)}
                      onPatch={patch}
                      onReplace={replace}
                      app={app}
                      formKey={formKey}
                      formFields={fields}
                      subform={selected?.parent}
                    />
                  ),
                },
                {
                  key: "form",
                  label: <span data-testid="designer-tab-form">{t("canvas.formSettings")}</span>,
                  children: <FormSettingsPanel settings={settings} onChange={setSettings} candidates={titleCandidates(fields, kinds)} issues={formIssues(issues, app, formKey)} context={{ app, formKey, formFields: fields }} />,
                },
              ]}
            />
          </Col>
        </Row>
        <DragOverlay dropAnimation={null}>{dragging ? <Tag color="blue" style={{ cursor: "grabbing", boxShadow: "0 2px 8px rgba(0,0,0,.15)" }}>{draggedText()}</Tag> : null}</DragOverlay>
      </DndContext>
      <Modal
        open={!!plan}
        title={t("designer.planTitle")}
        okText={lost ? t("designFix.publishAnyway") : t("designer.confirm")}
        cancelText={t("fill.cancel")}
        confirmLoading={busy}
        onOk={publish}
        onCancel={() => setPlan(null)}
        okButtonProps={{ danger: lost > 0, ...({ "data-testid": "plan-confirm" } as Record<string, string>) }}
      >
        <div data-testid="plan-modal">
          {lost > 0 && (
            <Alert type="error" showIcon style={{ marginBottom: 8 }} title={t("designFix.dangerTitle")} description={t("designFix.backedUp", { count: lost })} data-testid="plan-danger" />
          )}
          {plan && plan.steps.length === 0 ? (
            <Typography.Text>{t("designer.noChanges")}</Typography.Text>
          ) : (
            <List
              size="small"
              dataSource={plan?.steps ?? []}
              renderItem={(step, i) => (
                <List.Item key={i} data-testid="plan-step" style={{ display: "block" }}>
                  {stepText(step)}
                  <FailedValues app={app.key} step={step} />
                </List.Item>
              )}
            />
          )}
        </div>
      </Modal>
      <UnsavedGuard dirty={dirty} />
      <PreviewModal open={preview} onClose={() => setPreview(false)} app={draft} form={findForm(draft, formKey)!} />
    </>
  );
}

/** The records whose values a type change cannot convert, with the value, as links to them. */
function FailedValues({ app, step }: { app: string; step: MigrationPlan["steps"][number] }) {
  const { t } = useTranslation();
  const { named, more } = namedFailures(step);
  if (!named.length) return null;
  return (
    <div style={{ marginTop: 4, paddingInlineStart: 12 }} data-testid="plan-failures">
      <Typography.Text type="secondary">{t("designFix.notConverted")}：</Typography.Text>
      {named.map((f, i) => (
        <span key={f.id}>
          {i > 0 && "、"}
          <Link to={recordLink(app, step, f.id)} target="_blank" data-testid={`plan-failure-${f.id}`}>
            {f.title || t("designFix.untitled", { id: f.id })}
          </Link>
          <Typography.Text code>{f.value}</Typography.Text>
        </span>
      ))}
      {more > 0 && <Typography.Text type="secondary"> {t("designFix.notConvertedMore", { count: more })}</Typography.Text>}
    </div>
  );
}

/** A palette entry that can be dragged onto the canvas (a click still adds it). */
function PaletteItem({ type, children }: { type: string; children: ReactNode }) {
  const { attributes, listeners, setNodeRef, isDragging } = useDraggable({ id: PALETTE_DRAG + type });
  return (
    <span ref={setNodeRef} {...attributes} {...listeners} tabIndex={-1} style={{ display: "inline-block", opacity: isDragging ? 0.5 : 1 }}>
      {children}
    </span>
  );
}
