/**
 * The flow designer's canvas: the flow tree drawn as a vertical chain (DingTalk/飞书 style) from
 * 发起人 to 流程结束, a "+" between any two steps to insert an approver, handler, copy, a choice
 * or a parallel block, and each gateway's branches side by side with their conditions. Cards
 * the server's issues name have a red border and the first message; a click selects a card.
 */
import { BranchesOutlined, CloseOutlined, PlusOutlined } from "@ant-design/icons";
import { Button, Dropdown, Popconfirm, Tooltip } from "antd";
import { Fragment, type ReactNode } from "react";
import { useTranslation } from "react-i18next";
import { labelText } from "../forms/labels";
import "./flows.css";
import { addBranch, insertBlock, newBlock, removeBlock, removeBranch, type Block, type Branch, type ChainAt, type FlowNodeDef, type FlowTree } from "./tree";

export interface FlowCanvasProps {
  tree: FlowTree;
  readOnly: boolean;
  /** Messages by target key (node id, or `gateway#branch`). */
  issues: Map<string, string[]>;
  /** The selected target key. */
  selected: string | null;
  /** The text under a task node's title (its assignees and mode). */
  describe(node: FlowNodeDef): ReactNode;
  onSelect(key: string): void;
  onChange(tree: FlowTree, select?: string): void;
}

const TYPE_CLASS: Record<string, string> = { start: "start", approve: "approve", handle: "handle", cc: "cc" };

export default function FlowCanvas(props: FlowCanvasProps) {
  const { tree } = props;
  const { t, i18n } = useTranslation();
  return (
    <div className="jimu-flow-canvas" data-testid="flow-canvas">
      <div className="jimu-flow-chain">
        <div className="jimu-flow-node" style={{ cursor: "default" }} data-testid={`flow-node-${tree.start.id}`}>
          <div className="jimu-flow-node-head jimu-flow-type-start">
            <span className="jimu-flow-node-title">{labelText(tree.start.name, i18n.language, t("flows.start"))}</span>
          </div>
          <div className="jimu-flow-node-body">{t("flows.startHint")}</div>
        </div>
        <Chain {...props} at={null} blocks={tree.blocks} />
        <div className="jimu-flow-end" data-testid={`flow-node-${tree.end.id}`}>
          {labelText(tree.end.name, i18n.language, t("flows.end"))}
        </div>
      </div>
    </div>
  );
}

/** The blocks of one chain, each followed by a "+"; a "+" before the first too. */
function Chain(props: FlowCanvasProps & { at: ChainAt; blocks: Block[] }) {
  const { at, blocks } = props;
  return (
    <>
      <AddButton {...props} at={at} index={0} />
      {blocks.map((block, i) => (
        <Fragment key={block.node.id}>
          <BlockView {...props} block={block} />
          <AddButton {...props} at={at} index={i + 1} />
        </Fragment>
      ))}
    </>
  );
}

const chainKey = (at: ChainAt) => (at ? `${at.gateway}-${at.branch}` : "main");

function AddButton({ tree, at, index, readOnly, onChange }: FlowCanvasProps & { at: ChainAt; index: number }) {
  const { t } = useTranslation();
  const testId = `flow-add-${chainKey(at)}-${index}`;
  if (readOnly)
    return (
      <div className="jimu-flow-add">
        <div className="jimu-flow-line" style={{ height: 32 }} />
      </div>
    );
  const kinds = ["approve", "handle", "cc", "exclusive", "parallel"] as const;
  return (
    <div className="jimu-flow-add">
      <div className="jimu-flow-line" />
      <Dropdown
        trigger={["click"]}
        menu={{
          items: kinds.map((kind) => ({ key: kind, label: <span data-testid={`${testId}-${kind}`}>{t(`flows.types.${kind}`)}</span> })),
          onClick: ({ key }) => {
            const block = newBlock(tree, key as (typeof kinds)[number]);
            onChange(insertBlock(tree, at, index, block), block.kind === "task" ? block.node.id : undefined);
          },
        }}
      >
        <Button shape="circle" size="small" type="primary" icon={<PlusOutlined />} aria-label={t("flows.add")} data-testid={testId} />
      </Dropdown>
      <div className="jimu-flow-line" />
    </div>
  );
}

function BlockView(props: FlowCanvasProps & { block: Block }) {
  const { block } = props;
  if (block.kind === "task") return <TaskCard {...props} node={block.node} />;
  return <GatewayView {...props} block={block} />;
}

function TaskCard({ node, tree, readOnly, issues, selected, describe, onSelect, onChange }: FlowCanvasProps & { node: FlowNodeDef }) {
  const { t, i18n } = useTranslation();
  const errors = issues.get(node.id) ?? [];
  const typeName = t(`flows.types.${TYPE_CLASS[node.type] ? node.type : "other"}`);
  const classes = ["jimu-flow-node", selected === node.id ? "is-selected" : "", errors.length ? "has-error" : ""].join(" ");
  return (
    <div className={classes} onClick={() => onSelect(node.id)} data-testid={`flow-node-${node.id}`} data-error={errors.length ? "true" : undefined}>
      <div className={`jimu-flow-node-head jimu-flow-type-${TYPE_CLASS[node.type] ?? "other"}`}>
        <span className="jimu-flow-node-title">{labelText(node.name, i18n.language, typeName)}</span>
        {!readOnly && (
          <Button
            type="text"
            size="small"
            icon={<CloseOutlined />}
            aria-label={t("flows.removeNode")}
            onClick={(e) => {
              e.stopPropagation();
              onChange(removeBlock(tree, node.id));
            }}
            data-testid={`flow-node-${node.id}-remove`}
          />
        )}
      </div>
      <div className="jimu-flow-node-body">{describe(node)}</div>
      {errors.length > 0 && (
        <div className="jimu-flow-node-error" data-testid={`flow-node-${node.id}-error`}>
          {errors[0]}
        </div>
      )}
    </div>
  );
}

function GatewayView(props: FlowCanvasProps & { block: Exclude<Block, { kind: "task" }> }) {
  const { block, tree, readOnly, issues, onChange } = props;
  const { t, i18n } = useTranslation();
  const id = block.node.id;
  const errors = [...(issues.get(id) ?? []), ...(block.kind === "parallel" ? (issues.get(block.join.id) ?? []) : [])];
  const exclusive = block.kind === "exclusive";
  return (
    <>
      <div className={`jimu-flow-gateway${errors.length ? " has-error" : ""}`} data-testid={`flow-node-${id}`} data-error={errors.length ? "true" : undefined}>
        <BranchesOutlined />
        <span>{labelText(block.node.name, i18n.language, t(exclusive ? "flows.types.exclusive" : "flows.types.parallel"))}</span>
        {!readOnly && (
          <>
            <Button type="link" size="small" onClick={() => onChange(addBranch(tree, id))} data-testid={`flow-node-${id}-add-branch`}>
              {t(exclusive ? "flows.addCondition" : "flows.addParallel")}
            </Button>
            <Popconfirm title={t("flows.confirmRemove")} onConfirm={() => onChange(removeBlock(tree, id))} okButtonProps={{ danger: true, "data-testid": "flow-remove-confirm" }}>
              <Button type="text" size="small" icon={<CloseOutlined />} aria-label={t("flows.removeNode")} data-testid={`flow-node-${id}-remove`} />
            </Popconfirm>
          </>
        )}
      </div>
      {errors.length > 0 && (
        <div className="jimu-flow-gateway-error" data-testid={`flow-node-${id}-error`}>
          {errors[0]}
        </div>
      )}
      <div className="jimu-flow-line" />
      <div className="jimu-flow-branches">
        {block.branches.map((branch, b) => (
          <div className="jimu-flow-branch" key={b}>
            <div className="jimu-flow-line" />
            <BranchCard {...props} gateway={id} exclusive={exclusive} branch={branch} index={b} count={block.branches.length} />
            <Chain {...props} at={{ gateway: id, branch: b }} blocks={branch.blocks} />
            <div className="jimu-flow-branch-fill" />
          </div>
        ))}
      </div>
    </>
  );
}

function BranchCard({
  tree,
  gateway,
  exclusive,
  branch,
  index,
  readOnly,
  issues,
  selected,
  onSelect,
  onChange,
}: FlowCanvasProps & { gateway: string; exclusive: boolean; branch: Branch; index: number; count: number }) {
  const { t, i18n } = useTranslation();
  const key = `${gateway}#${index}`;
  const errors = issues.get(key) ?? [];
  const isDefault = !!branch.edge.default;
  const name = typeof branch.edge.name === "string" || (branch.edge.name && typeof branch.edge.name === "object") ? labelText(branch.edge.name as never, i18n.language, "") : "";
  const title = name || (exclusive ? (isDefault ? t("flows.defaultBranch") : t("flows.condition", { n: index + 1 })) : t("flows.branch", { n: index + 1 }));
  const classes = ["jimu-flow-branch-card", selected === key ? "is-selected" : "", errors.length ? "has-error" : ""].join(" ");
  const when = typeof branch.edge.when === "string" ? branch.edge.when : "";
  return (
    <div
      className={classes}
      onClick={() => exclusive && onSelect(key)}
      style={exclusive ? undefined : { cursor: "default" }}
      data-testid={`flow-branch-${gateway}-${index}`}
      data-error={errors.length ? "true" : undefined}
    >
      <div className={`jimu-flow-branch-head${isDefault ? " is-default" : ""}${exclusive ? "" : " is-parallel"}`}>
        <span>{title}</span>
        {!readOnly && (
          <Tooltip title={t("flows.removeBranch")}>
            <Button
              type="text"
              size="small"
              icon={<CloseOutlined />}
              aria-label={t("flows.removeBranch")}
              onClick={(e) => {
                e.stopPropagation();
                onChange(removeBranch(tree, gateway, index));
              }}
              data-testid={`flow-branch-${gateway}-${index}-remove`}
            />
          </Tooltip>
        )}
      </div>
      {exclusive ? (
        isDefault ? (
          <div className="jimu-flow-branch-text" style={{ fontFamily: "inherit", color: "#8c8c8c" }}>
            {t("flows.defaultHint")}
          </div>
        ) : (
          <div className={`jimu-flow-branch-text${when ? "" : " is-empty"}`}>{when || t("flows.noCondition")}</div>
        )
      ) : (
        <div className="jimu-flow-branch-text" style={{ fontFamily: "inherit", color: "#8c8c8c" }}>
          {t("flows.parallelHint")}
        </div>
      )}
      {errors.length > 0 && (
        <div className="jimu-flow-node-error" style={{ padding: "4px 0 0" }} data-testid={`flow-branch-${gateway}-${index}-error`}>
          {errors[0]}
        </div>
      )}
    </div>
  );
}
