/**
 * 设计流程 · Flow designer: one flow of the app as a vertical chain (flows/FlowCanvas) with a
 * drawer for the selected node's settings, a branch's condition or the flow's settings.
 * Saving publishes the app's flows (`PUT /apps/{app}/flows`, the tree compiled to nodes and
 * edges); the server's issues come back on the nodes and branches they name (red border and
 * message) and as a list, and nothing is saved. A stored flow the tree cannot show exactly is
 * shown read-only. Leaving with unsaved changes asks first.
 */
import { SettingOutlined } from "@ant-design/icons";
import { Alert, App, Button, Drawer, Grid, Result, Tag, Typography } from "antd";
import { useMemo, useState } from "react";
import { useTranslation } from "react-i18next";
import { useParams } from "react-router";
import { ConflictAlert, DesignerHeader, usePartPublish } from "../components/PartDesigner";
import { UnsavedGuard } from "../components/UnsavedGuard";
import type { AppDef, Issue } from "../api/types";
import { useAuth } from "../auth/AuthContext";
import { publishFlows } from "../flows/api";
import { boundForm, flowsOf, issueTarget, rolesOf, targetKey } from "../flows/definition";
import FlowCanvas from "../flows/FlowCanvas";
import { assigneeText, BranchPanel, NodePanel, SettingsPanel, type Assignee, type FlowLookups, type FlowMeta } from "../flows/NodePanel";
import { canonical, compile, findBlock, parse, patchBranch, patchNode, structureIssues, Unsupported, type Compiled, type FlowDef, type FlowNodeDef, type FlowTree } from "../flows/tree";
import { labelText } from "../forms/labels";
import { findForm, useApp } from "./appContext";

export default function FlowDesignerPage() {
  const { user } = useAuth();
  const { app } = useApp();
  const { flow: key } = useParams();
  const { t } = useTranslation();
  if (!user?.is_admin) return <Result status="403" title={t("errors.forbidden")} />;
  const flow = flowsOf(app).find((f) => f.key === key);
  if (!flow) return <Result status="404" title={t("errors.notFound")} />;
  return <Designer key={`${app.key}/${flow.key}/${app._revision}`} app={app} flow={flow} />;
}

/** The tree of a stored flow, or null when the designer cannot show it exactly (`Unsupported`,
 * or anything unexpected in a definition made elsewhere: shown read-only, never rewritten). */
function readTree(flow: FlowDef): FlowTree | null {
  try {
    return parse(flow);
  } catch (error) {
    if (!(error instanceof Unsupported)) console.warn("flow shown read-only:", error);
    return null;
  }
}

const metaOf = (flow: FlowDef): FlowMeta => ({ name: flow.name, description: flow.description, admin: flow.admin });

/** The flow as it will be published: the stored one with the edited settings and graph. */
function flowOf(stored: FlowDef, meta: FlowMeta, compiled: Pick<Compiled, "nodes" | "edges">): FlowDef {
  const next: FlowDef = { ...stored, name: meta.name, nodes: compiled.nodes, edges: compiled.edges };
  if (meta.description) next.description = meta.description;
  else delete next.description;
  if (meta.admin) next.admin = meta.admin;
  else delete next.admin;
  return next;
}

type Selected = { kind: "node"; id: string } | { kind: "branch"; gateway: string; branch: number } | { kind: "settings" } | null;

function Designer({ app, flow }: { app: AppDef; flow: FlowDef }) {
  const { t, i18n } = useTranslation();
  const lang = i18n.language === "en" ? "en" : "zh";
  const { message } = App.useApp();
  const screens = Grid.useBreakpoint();
  const initialTree = useMemo(() => readTree(flow), [flow]);
  const [tree, setTree] = useState<FlowTree | null>(initialTree);
  const [meta, setMeta] = useState<FlowMeta>(metaOf(flow));
  const [selected, setSelected] = useState<Selected>(null);
  const [issues, setIssues] = useState<{ issue: Issue; key: string }[]>([]);
  const { busy, conflict, publish, reload } = usePartPublish(app.key);
  const readOnly = tree === null;
  const form = findForm(app, flow.form);
  const fields = form?.fields ?? [];
  const lookups: FlowLookups = { roles: rolesOf(app), fields, lang };
  const index = flowsOf(app).findIndex((f) => f.key === flow.key);
  const bound = boundForm(app, flow.key);

  const dirty = useMemo(() => (tree ? canonical(flowOf(flow, meta, compile(tree))) !== canonical(flowOf(flow, metaOf(flow), compile(initialTree!))) : false), [tree, meta, flow, initialTree]);


  const byTarget = useMemo(() => {
    const map = new Map<string, string[]>();
    for (const { issue, key } of issues) {
      // a parallel join's issues show on its block
      const shown = tree && findBlock(tree.blocks, key)?.node.id;
      const at = shown ?? key;
      map.set(at, [...(map.get(at) ?? []), issue.message]);
    }
    return map;
  }, [issues, tree]);

  const change = (next: FlowTree, select?: string) => {
    setTree(next);
    if (select) setSelected({ kind: "node", id: select });
  };

  const save = async () => {
    if (!tree) return;
    const compiled = compile(tree);
    const local = structureIssues(tree);
    if (local.length) {
      setIssues(local.map(({ node, code }) => ({ key: node, issue: { path: node, code, message: t(`flows.structure.${code}`) } })));
      message.error(t("flows.fix"));
      return;
    }
    const flows = flowsOf(app).map((f) => (f.key === flow.key ? flowOf(flow, meta, compiled) : f));
    await publish(() => publishFlows(app, flows), {
      saved: t("flows.saved"),
      fix: t("flows.fix"),
      onIssues: (found) =>
        setIssues(
          found.map((issue) => {
            const target = issueTarget(issue, index, compiled);
            return { issue, key: target ? targetKey(target) : "flow" };
          }),
        ),
    });
  };

  const describe = (node: FlowNodeDef) => {
    const entries = (Array.isArray(node.assignees) ? node.assignees : []) as Assignee[];
    if (!entries.length) return <span className="is-empty">{t("flows.noAssignees")}</span>;
    const names = entries.map((e) => assigneeText(e, lookups, t)).join(lang === "en" ? ", " : "、");
    const mode = node.type === "approve" && entries.length > 1 ? ` · ${t(`flows.modeShort.${typeof node.mode === "string" ? node.mode : "any"}`)}` : "";
    return `${names}${mode}`;
  };

  const selectKey = (key: string) => {
    const hash = key.lastIndexOf("#");
    if (hash > 0) setSelected({ kind: "branch", gateway: key.slice(0, hash), branch: Number(key.slice(hash + 1)) });
    else setSelected({ kind: "node", id: key });
  };
  const selectedKey = selected?.kind === "node" ? selected.id : selected?.kind === "branch" ? `${selected.gateway}#${selected.branch}` : null;
  const selectedBlock = tree && selected?.kind === "node" ? findBlock(tree.blocks, selected.id) : undefined;
  const selectedNode = selectedBlock?.kind === "task" ? selectedBlock.node : undefined;
  const selectedBranch = tree && selected?.kind === "branch" ? findBlock(tree.blocks, selected.gateway) : undefined;
  const branchEdge = selectedBranch && selectedBranch.kind !== "task" && selected?.kind === "branch" ? selectedBranch.branches[selected.branch]?.edge : undefined;
  const settingsIssues = issues.filter((i) => i.key === "settings").map((i) => i.issue.message);
  const drawerTitle =
    selected?.kind === "settings"
      ? t("flows.settings")
      : selectedNode
        ? labelText(selectedNode.name, lang, t(`flows.types.${["approve", "handle", "cc"].includes(selectedNode.type) ? selectedNode.type : "other"}`))
        : t("flows.branchTitle");
  const drawerOpen = selected?.kind === "settings" || !!selectedNode || !!branchEdge;

  return (
    <>
      <DesignerHeader
        testId="flow"
        back={`/apps/${app.key}/_flows`}
        backText={t("flows.back")}
        title={labelText(meta.name, lang, flow.key)}
        tags={<Tag color={bound ? "blue" : undefined}>{bound ? t("flows.bound", { form: labelText(findForm(app, bound)?.name, lang, bound) }) : t("flows.notBound")}</Tag>}
        dirty={dirty}
        dirtyText={t("flows.unsaved")}
        actions={
          <>
            <Button icon={<SettingOutlined />} onClick={() => setSelected({ kind: "settings" })} disabled={readOnly} data-testid="flow-settings">
              {t("flows.settings")}
            </Button>
            <Button type="primary" loading={busy} disabled={readOnly} onClick={save} data-testid="flow-save">
              {t("flows.save")}
            </Button>
          </>
        }
      />
      <ConflictAlert testId="flow" conflict={conflict} onReload={reload} />
      {readOnly && <Alert type="info" showIcon style={{ marginBottom: 12 }} title={t("flows.readOnly")} data-testid="flow-readonly" />}
      {issues.length > 0 && (
        <Alert
          type="error"
          showIcon
          style={{ marginBottom: 12 }}
          title={t("flows.issues")}
          description={
            <ul style={{ margin: 0, paddingInlineStart: 18 }} data-testid="flow-issues">
              {issues.map(({ issue, key }, i) => (
                <li key={i} data-testid="flow-issue">
                  {key !== "flow" && key !== "settings" ? (
                    <a onClick={() => selectKey(key)}>{issue.message}</a>
                  ) : key === "settings" ? (
                    <a onClick={() => setSelected({ kind: "settings" })}>{issue.message}</a>
                  ) : (
                    issue.message
                  )}
                </li>
              ))}
            </ul>
          }
        />
      )}
      {tree ? (
        <FlowCanvas tree={tree} readOnly={false} issues={byTarget} selected={selectedKey} describe={describe} onSelect={selectKey} onChange={change} />
      ) : (
        <ReadOnlyGraph flow={flow} />
      )}
      <Drawer
        open={drawerOpen}
        onClose={() => setSelected(null)}
        title={drawerTitle}
        size={screens.md ? 480 : "100%"}
        styles={{ wrapper: { maxWidth: "100vw" } }}
        destroyOnHidden
        data-testid="flow-drawer"
      >
        {selected?.kind === "settings" && <SettingsPanel meta={meta} lookups={lookups} issues={settingsIssues} onChange={setMeta} />}
        {selectedNode && tree && (
          <NodePanel key={selectedNode.id} node={selectedNode} lookups={lookups} issues={byTarget.get(selectedNode.id) ?? []} onPatch={(patch) => setTree(patchNode(tree, selectedNode.id, patch))} />
        )}
        {branchEdge && tree && selected?.kind === "branch" && (
          <BranchPanel
            key={selectedKey!}
            edge={branchEdge}
            app={app}
            form={flow.form}
            fields={fields}
            issues={byTarget.get(selectedKey!) ?? []}
            onPatch={(patch) => setTree(patchBranch(tree, selected.gateway, selected.branch, patch))}
          />
        )}
      </Drawer>
      <UnsavedGuard dirty={dirty} />
    </>
  );
}

/** A flow the tree cannot show: its nodes and edges as stored, to read. */
function ReadOnlyGraph({ flow }: { flow: FlowDef }) {
  const { t, i18n } = useTranslation();
  return (
    <div className="jimu-flow-canvas" data-testid="flow-canvas-readonly">
      <ul>
        {flow.nodes.map((node) => (
          <li key={node.id}>
            <Typography.Text code>{node.id}</Typography.Text>{" "}
            {node.type === "start" ? t("flows.start") : node.type === "end" ? t("flows.end") : t(`flows.types.${["approve", "handle", "cc", "exclusive", "parallel"].includes(node.type) ? node.type : "other"}`)}{" "}
            {labelText(node.name, i18n.language, "")}
          </li>
        ))}
      </ul>
      <ul>
        {flow.edges.map((edge, i) => (
          <li key={i}>
            {edge.from} → {edge.to}
            {edge.when ? <Typography.Text code>{edge.when}</Typography.Text> : null}
            {edge.default ? <Tag>{t("flows.defaultBranch")}</Tag> : null}
          </li>
        ))}
      </ul>
    </div>
  );
}
