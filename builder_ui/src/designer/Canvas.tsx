/**
 * The designer's canvas: the form's fields laid out as the fill page shows them — grouped under
 * their sections, side by side by their widths (antd Row/Col) — each a card that can be
 * selected, dragged, moved up/down, resized and removed; a subform card holds its own list of
 * sub-fields that palette types can be dropped into. Drops are resolved by state.dropOnList.
 */
import { ArrowDownOutlined, ArrowUpOutlined, DeleteOutlined, HolderOutlined } from "@ant-design/icons";
import { closestCenter, pointerWithin, useDraggable, useDroppable, type CollisionDetection } from "@dnd-kit/core";
import { Button, Col, Empty, Row, Select, Tag, Tooltip, Typography } from "antd";
import type { CSSProperties, MouseEvent, ReactNode, SyntheticEvent } from "react";
import { useTranslation } from "react-i18next";
import type { FieldDef, Issue } from "../api/types";
import { labelText } from "../forms/labels";
import {
  groupSections,
  LIST_DROP,
  moveSection,
  removeAt,
  SECTION_END,
  selectionId,
  setWidth,
  stepAt,
  SUB_DRAG,
  SUB_DROP,
  subDragId,
  widthSpan,
  WIDTHS,
  type Selection,
  type Width,
} from "./state";

/**
 * The drop target under the pointer, the innermost first (a subform's row before the subform
 * card, a card before the canvas); a dragged subform never targets its own rows. Without a
 * pointer (keyboard dragging) the closest centre.
 */
export const innermost: CollisionDetection = (args) => {
  if (!args.pointerCoordinates) return closestCenter(args);
  const active = String(args.active.id);
  const own = (id: string) => id === `${SUB_DROP}${active}` || id.startsWith(`${SUB_DRAG}${active}:`);
  const area = (id: string | number) => {
    const rect = args.droppableRects.get(id);
    return rect ? rect.width * rect.height : Number.POSITIVE_INFINITY;
  };
  return pointerWithin(args)
    .filter((c) => !own(String(c.id)))
    .sort((a, b) => area(a.id) - area(b.id));
};

interface CanvasProps {
  fields: FieldDef[];
  selected: Selection | null;
  onSelect(selection: Selection | null): void;
  onChange(fields: FieldDef[]): void;
  /** The server's issues by selection id (state.issuesByField). */
  byField: Record<string, Issue[]>;
  typeTitle(type: string): string;
}

const stop = (e: MouseEvent) => e.stopPropagation();
// The card's controls are not drag handles: a press or a Space on them must not start a drag.
const stopDrag = (e: SyntheticEvent) => e.stopPropagation();

export default function Canvas({ fields, selected, onSelect, onChange, byField, typeTitle }: CanvasProps) {
  const { t } = useTranslation();
  const { setNodeRef, isOver } = useDroppable({ id: LIST_DROP });
  const groups = groupSections(fields);
  const card = (f: FieldDef) => (
    <FieldCard key={f.key} field={f} fields={fields} selected={selected} onSelect={onSelect} onChange={onChange} byField={byField} typeTitle={typeTitle} />
  );
  const row = (list: FieldDef[]) => (
    <Row gutter={[8, 8]}>
      {list.map((f) => (
        <Col key={f.key} xs={24} sm={widthSpan(f)}>
          {card(f)}
        </Col>
      ))}
    </Row>
  );
  return (
    <div
      ref={setNodeRef}
      onClick={() => onSelect(null)}
      data-testid="designer-canvas"
      style={{ minHeight: 160, padding: 4, borderRadius: 6, outline: isOver ? "2px dashed #91caff" : undefined }}
    >
      {fields.length === 0 ? (
        <div data-testid="designer-drop" style={{ padding: 16 }}>
          <Empty description={t("designer.empty")} />
        </div>
      ) : (
        groups.map((group, index) =>
          group.section ? (
            <div key={group.section.key} data-testid={`designer-section-${group.section.key}`} style={{ marginTop: 12 }}>
              {card(group.section)}
              <SectionArea section={group.section.key}>
                {group.fields.length ? row(group.fields) : <Typography.Text type="secondary">{t("canvas.sectionEmpty")}</Typography.Text>}
              </SectionArea>
            </div>
          ) : (
            group.fields.length > 0 && <div key={`head-${index}`}>{row(group.fields)}</div>
          ),
        )
      )}
    </div>
  );
}

/** The area under a section's title: a drop here adds to the end of the section. */
function SectionArea({ section, children }: { section: string; children: ReactNode }) {
  const { setNodeRef, isOver } = useDroppable({ id: `${SECTION_END}${section}` });
  return (
    <div
      ref={setNodeRef}
      data-testid={`designer-section-area-${section}`}
      style={{ borderInlineStart: `3px solid ${isOver ? "#1677ff" : "#d6e4ff"}`, padding: "8px 0 8px 8px", marginInlineStart: 4, minHeight: 40, background: isOver ? "#f0f7ff" : undefined }}
    >
      {children}
    </div>
  );
}

/** A row that is both draggable and a drop target, with a dashed outline while something hovers it. */
function DndItem({ id, children, style }: { id: string; children: ReactNode; style?: CSSProperties }) {
  const drag = useDraggable({ id });
  const drop = useDroppable({ id });
  return (
    <div
      ref={(node) => {
        drag.setNodeRef(node);
        drop.setNodeRef(node);
      }}
      {...drag.attributes}
      {...drag.listeners}
      style={{
        ...style,
        borderRadius: 6,
        opacity: drag.isDragging ? 0.5 : 1,
        outline: drop.isOver && !drag.isDragging ? "2px dashed #1677ff" : undefined,
        outlineOffset: 1,
      }}
    >
      {children}
    </div>
  );
}

interface CardProps extends Omit<CanvasProps, "fields"> {
  field: FieldDef;
  fields: FieldDef[];
}

function FieldCard({ field: f, fields, selected, onSelect, onChange, byField, typeTitle }: CardProps) {
  const { t, i18n } = useTranslation();
  const lang = i18n.language === "en" ? "en" : "zh";
  const isSection = f.type === "section";
  const index = fields.indexOf(f);
  const isSelected = !selected?.parent && selected?.key === f.key;
  const inner = isSelected || selected?.parent === f.key;
  const flagged = !!byField[f.key] || Object.keys(byField).some((id) => id.startsWith(`${f.key}.`));
  const sel = { key: f.key };
  const up = isSection ? () => onChange(moveSection(fields, f.key, -1)) : () => onChange(stepAt(fields, sel, -1));
  const down = isSection ? () => onChange(moveSection(fields, f.key, 1)) : () => onChange(stepAt(fields, sel, 1));
  const canUp = isSection ? moveSection(fields, f.key, -1) !== fields : index > 0;
  const canDown = isSection ? moveSection(fields, f.key, 1) !== fields : index < fields.length - 1;
  return (
    <DndItem id={f.key}>
      <div
        data-testid={`designer-field-${f.key}`}
        onClick={(e) => {
          e.stopPropagation();
          onSelect(sel);
        }}
        style={{
          cursor: "pointer",
          padding: "6px 8px",
          border: "1px solid #f0f0f0",
          borderInlineStart: flagged ? "3px solid #ff4d4f" : isSection ? "3px solid #1677ff" : "3px solid #f0f0f0",
          borderRadius: 6,
          background: isSelected ? "#e6f4ff" : isSection ? "#f5f8ff" : "#fff",
        }}
      >
        <div style={{ display: "flex", alignItems: "center", gap: 6, flexWrap: "wrap" }}>
          <HolderOutlined style={{ cursor: "grab", color: "#999" }} />
          <span style={{ flex: 1, minWidth: 80, overflow: "hidden", textOverflow: "ellipsis", whiteSpace: "nowrap", fontWeight: isSection ? 600 : undefined }}>
            <span data-testid={`designer-label-${f.key}`}>{labelText(f.label, lang, f.key)}</span>
            {f.required && <Typography.Text type="danger"> *</Typography.Text>}{" "}
            <Typography.Text type="secondary" style={{ fontSize: 12 }}>
              {f.key}
            </Typography.Text>
          </span>
          <Tag style={{ marginInlineEnd: 0 }}>{typeTitle(f.type)}</Tag>
          <span onClick={stop} onMouseDown={stopDrag} onTouchStart={stopDrag} onKeyDown={stopDrag} style={{ display: "inline-flex", alignItems: "center", gap: 2 }}>
            {!isSection && (
              <Tooltip title={t("canvas.width")}>
                <Select
                  size="small"
                  value={(f.width as Width | undefined) ?? "full"}
                  onChange={(width: Width) => onChange(setWidth(fields, f.key, width))}
                  options={WIDTHS.map((w) => ({ value: w, label: t(`canvas.widths.${w}`) }))}
                  popupMatchSelectWidth={false}
                  style={{ width: 72 }}
                  aria-label={t("canvas.width")}
                  data-testid={`designer-width-${f.key}`}
                />
              </Tooltip>
            )}
            <Button size="small" type="text" icon={<ArrowUpOutlined />} disabled={!canUp} aria-label={t("designer.up")} onClick={up} data-testid={`designer-up-${f.key}`} />
            <Button size="small" type="text" icon={<ArrowDownOutlined />} disabled={!canDown} aria-label={t("designer.down")} onClick={down} data-testid={`designer-down-${f.key}`} />
            <Button
              size="small"
              type="text"
              danger
              icon={<DeleteOutlined />}
              aria-label={isSection ? t("canvas.removeSection") : t("designer.remove")}
              data-testid={`designer-remove-${f.key}`}
              onClick={() => {
                onChange(removeAt(fields, sel));
                if (inner) onSelect(null);
              }}
            />
          </span>
        </div>
        {f.type === "subform" && <SubformList parent={f} fields={fields} selected={selected} onSelect={onSelect} onChange={onChange} byField={byField} typeTitle={typeTitle} active={inner} />}
      </div>
    </DndItem>
  );
}

interface SubformProps extends Omit<CanvasProps, "fields"> {
  parent: FieldDef;
  fields: FieldDef[];
  /** The subform or one of its fields is selected: palette clicks add here. */
  active: boolean;
}

/** The subform's own list: its rows (select, drag, move, remove) and a drop zone at the end. */
function SubformList({ parent, fields, selected, onSelect, onChange, byField, typeTitle, active }: SubformProps) {
  const { t, i18n } = useTranslation();
  const lang = i18n.language === "en" ? "en" : "zh";
  const subs = parent.fields ?? [];
  const end = useDroppable({ id: `${SUB_DROP}${parent.key}` });
  return (
    <div style={{ marginTop: 6, padding: 6, background: "#fafafa", borderRadius: 6, border: "1px solid #f0f0f0" }} data-testid={`designer-subform-${parent.key}`}>
      {subs.map((sub, index) => {
        const sel = { parent: parent.key, key: sub.key };
        const isSelected = selected?.parent === parent.key && selected.key === sub.key;
        return (
          <DndItem key={sub.key} id={subDragId(parent.key, sub.key)} style={{ marginBottom: 4 }}>
            <div
              data-testid={`designer-subfield-${parent.key}-${sub.key}`}
              onClick={(e) => {
                e.stopPropagation();
                onSelect(sel);
              }}
              style={{
                display: "flex",
                alignItems: "center",
                gap: 6,
                flexWrap: "wrap",
                padding: "2px 6px",
                borderRadius: 6,
                cursor: "pointer",
                background: isSelected ? "#e6f4ff" : "#fff",
                border: "1px solid #f0f0f0",
                borderInlineStart: byField[selectionId(sel)] ? "3px solid #ff4d4f" : "1px solid #f0f0f0",
              }}
            >
              <HolderOutlined style={{ cursor: "grab", color: "#999" }} />
              <span style={{ flex: 1, minWidth: 60, overflow: "hidden", textOverflow: "ellipsis", whiteSpace: "nowrap" }}>
                {labelText(sub.label, lang, sub.key)}
                {sub.required && <Typography.Text type="danger"> *</Typography.Text>}{" "}
                <Typography.Text type="secondary" style={{ fontSize: 12 }}>
                  {sub.key}
                </Typography.Text>
              </span>
              <Tag style={{ marginInlineEnd: 0 }}>{typeTitle(sub.type)}</Tag>
              <span onClick={stop} onMouseDown={stopDrag} onTouchStart={stopDrag} onKeyDown={stopDrag} style={{ display: "inline-flex" }}>
                <Button size="small" type="text" icon={<ArrowUpOutlined />} disabled={index === 0} aria-label={t("designer.up")} onClick={() => onChange(stepAt(fields, sel, -1))} data-testid={`designer-up-${parent.key}-${sub.key}`} />
                <Button size="small" type="text" icon={<ArrowDownOutlined />} disabled={index === subs.length - 1} aria-label={t("designer.down")} onClick={() => onChange(stepAt(fields, sel, 1))} data-testid={`designer-down-${parent.key}-${sub.key}`} />
                <Tooltip title={subs.length === 1 ? t("canvas.lastSubfield") : undefined}>
                  <Button
                    size="small"
                    type="text"
                    danger
                    icon={<DeleteOutlined />}
                    // A subform needs at least one field.
                    disabled={subs.length === 1}
                    aria-label={t("designer.remove")}
                    data-testid={`designer-remove-${parent.key}-${sub.key}`}
                    onClick={() => {
                      onChange(removeAt(fields, sel));
                      if (isSelected) onSelect({ key: parent.key });
                    }}
                  />
                </Tooltip>
              </span>
            </div>
          </DndItem>
        );
      })}
      <div
        ref={end.setNodeRef}
        data-testid={`designer-subdrop-${parent.key}`}
        style={{
          padding: "8px 6px",
          textAlign: "center",
          fontSize: 12,
          color: "#888",
          border: `1px dashed ${end.isOver ? "#1677ff" : "#d9d9d9"}`,
          borderRadius: 6,
          background: end.isOver ? "#e6f4ff" : undefined,
        }}
      >
        {active ? t("canvas.subformActive") : t("canvas.subformDrop")}
      </div>
    </div>
  );
}
