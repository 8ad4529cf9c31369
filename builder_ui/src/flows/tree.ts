/**
 * The flow designer's model: a flow as a tree of blocks (a vertical chain from 发起 to 结束 with
 * task nodes, exclusive choices and parallel blocks whose branches are chains again), and the
 * conversion both ways between that tree and the nodes + edges graph the server stores
 * (DESIGN §8, engine/flows). Pure functions, no React: the designer edits trees, `compile`
 * turns one into the graph to publish, `parse` reads a stored graph back — or refuses it when
 * the tree cannot show it exactly (a loop, several ends, branches that cross …), so the designer
 * shows such a flow read-only and never loses a node or an edge.
 */
import type { Label } from "../api/types";

/** A node as stored: id, type, optional name and the settings of its type. */
export interface FlowNodeDef {
  id: string;
  type: string;
  name?: Label;
  [key: string]: unknown;
}

/** An edge as stored (`when`/`default` only on an exclusive node's edges). */
export interface FlowEdgeDef {
  from: string;
  to: string;
  when?: string | null;
  default?: boolean;
  [key: string]: unknown;
}

/** A flow of the app definition's `flows`. */
export interface FlowDef {
  key: string;
  name: Label;
  form: string;
  description?: Label;
  admin?: { user: string } | { role: string } | null;
  nodes: FlowNodeDef[];
  edges: FlowEdgeDef[];
  [key: string]: unknown;
}

/** What a branch's first edge carries besides its ends: `when`, `default` and anything else. */
export type EdgeProps = Omit<FlowEdgeDef, "from" | "to">;

/** One branch of a choice or parallel block: its entry edge's properties and its own chain. */
export interface Branch {
  edge: EdgeProps;
  blocks: Block[];
}

export type Block =
  /** One node on the chain (approve, handle, cc, or any other non-gateway type). */
  | { kind: "task"; node: FlowNodeDef }
  /** An exclusive choice: the gateway node and its branches in order (one of them default). */
  | { kind: "exclusive"; node: FlowNodeDef; branches: Branch[] }
  /** A parallel block: the split, its branches, and the join where they meet again. */
  | { kind: "parallel"; node: FlowNodeDef; join: FlowNodeDef; branches: Branch[] };

export interface FlowTree {
  start: FlowNodeDef;
  end: FlowNodeDef;
  blocks: Block[];
}

/** Where an edge of a compiled graph comes from: the branch it enters, if it enters one. */
export interface EdgeOwner {
  gateway: string;
  branch: number;
}

export interface Compiled {
  nodes: FlowNodeDef[];
  edges: FlowEdgeDef[];
  /** For each edge (same index), the branch whose entry edge it is, else null. */
  owners: (EdgeOwner | null)[];
}

/** The task node types the designer adds (others parsed from a stored graph are kept as is). */
export const TASK_TYPES = ["approve", "handle", "cc"] as const;
export type TaskType = (typeof TASK_TYPES)[number];

/** A node without the properties that mean nothing: an empty `fields`, null values. */
export function cleanNode(node: FlowNodeDef): FlowNodeDef {
  const out: FlowNodeDef = { id: node.id, type: node.type };
  for (const [key, value] of Object.entries(node)) {
    if (key === "id" || key === "type" || value === null || value === undefined) continue;
    if (key === "fields" && isEmptyObject(value)) continue;
    out[key] = value;
  }
  return out;
}

/** An edge's properties without the ones that mean nothing (`default: false`, `when: null`). */
export function cleanEdgeProps(edge: Partial<FlowEdgeDef>): EdgeProps {
  const out: EdgeProps = {};
  for (const [key, value] of Object.entries(edge)) {
    if (key === "from" || key === "to" || value === null || value === undefined) continue;
    if (key === "default" && value === false) continue;
    if (key === "when" && typeof value === "string" && !value.trim()) continue;
    out[key] = value;
  }
  return out;
}

function isEmptyObject(value: unknown): boolean {
  return typeof value === "object" && value !== null && !Array.isArray(value) && Object.keys(value).length === 0;
}

/** A new flow's tree: 发起 → 结束. */
export function emptyTree(): FlowTree {
  return { start: { id: "start", type: "start" }, end: { id: "end", type: "end" }, blocks: [] };
}

/** The graph of a tree: nodes in chain order (start first, end last) and edges whose order
 * keeps every gateway's branches in their order (an exclusive choice takes the first edge whose
 * condition holds). */
export function compile(tree: FlowTree): Compiled {
  const nodes: FlowNodeDef[] = [tree.start];
  const edges: { seq: number; edge: FlowEdgeDef; owner: EdgeOwner | null }[] = [];
  let seq = 0;
  type Pending = { from: string; props: EdgeProps; seq: number; owner: EdgeOwner | null };
  const pending = (from: string, props: EdgeProps = {}, owner: EdgeOwner | null = null): Pending => ({ from, props, seq: seq++, owner });
  const connect = (from: Pending[], to: string) => {
    for (const p of from) edges.push({ seq: p.seq, edge: { from: p.from, to, ...p.props }, owner: p.owner });
  };
  const chain = (blocks: Block[], incoming: Pending[]): Pending[] => {
    let open = incoming;
    for (const block of blocks) {
      nodes.push(block.node);
      connect(open, block.node.id);
      if (block.kind === "task") {
        open = [pending(block.node.id)];
      } else {
        const gateway = block.node.id;
        const outs = block.branches.flatMap((branch, b) => chain(branch.blocks, [pending(gateway, branch.edge, { gateway, branch: b })]));
        if (block.kind === "exclusive") open = outs;
        else {
          nodes.push(block.join);
          connect(outs, block.join.id);
          open = [pending(block.join.id)];
        }
      }
    }
    return open;
  };
  const open = chain(tree.blocks, [pending(tree.start.id)]);
  nodes.push(tree.end);
  connect(open, tree.end.id);
  edges.sort((a, b) => a.seq - b.seq);
  return { nodes, edges: edges.map((e) => e.edge), owners: edges.map((e) => e.owner) };
}

/** Why a stored graph is shown read-only (the tree cannot show it exactly). */
export class Unsupported extends Error {}

/** The tree of a stored graph, or `Unsupported` when the tree cannot show it exactly (checked
 * by compiling the tree back: it must give the same nodes and, per node, the same outgoing
 * edges in the same order). A flow without nodes (a draft) is the empty tree. */
export function parse(flow: Pick<FlowDef, "nodes" | "edges">): FlowTree {
  const nodes = (flow.nodes ?? []).map(cleanNode);
  const edges = (flow.edges ?? []).map((e) => ({ from: e.from, to: e.to, ...cleanEdgeProps(e) }));
  if (!nodes.length) {
    if (edges.length) throw new Unsupported("edges without nodes");
    return emptyTree();
  }
  const byId = new Map<string, FlowNodeDef>();
  for (const node of nodes) {
    if (byId.has(node.id)) throw new Unsupported(`duplicate node ${node.id}`);
    byId.set(node.id, node);
  }
  const starts = nodes.filter((n) => n.type === "start");
  const ends = nodes.filter((n) => n.type === "end");
  if (starts.length !== 1 || ends.length !== 1) throw new Unsupported("one start and one end");
  const out = new Map<string, FlowEdgeDef[]>();
  for (const edge of edges) {
    if (!byId.has(edge.from) || !byId.has(edge.to)) throw new Unsupported(`edge ${edge.from} → ${edge.to}`);
    out.set(edge.from, [...(out.get(edge.from) ?? []), edge]);
  }
  const order = topological(nodes, out);
  const ipdom = postDominators(order, out, ends[0].id);
  const start = starts[0];
  const end = ends[0];
  const plain = (edge: FlowEdgeDef) => Object.keys(cleanEdgeProps(edge)).length === 0;
  const props = (edge: FlowEdgeDef): EdgeProps => cleanEdgeProps(edge);

  const sequence = (from: string, stop: string): Block[] => {
    const blocks: Block[] = [];
    let at = from;
    while (at !== stop) {
      const node = byId.get(at)!;
      const outs = out.get(at) ?? [];
      if (node.type === "end" || node.type === "start") throw new Unsupported(`${node.type} inside the chain`);
      if (node.type === "exclusive") {
        const merge = ipdom.get(at);
        if (outs.length < 2 || !merge) throw new Unsupported(`exclusive ${at}`);
        blocks.push({ kind: "exclusive", node, branches: outs.map((e) => ({ edge: props(e), blocks: sequence(e.to, merge) })) });
        at = merge;
      } else if (node.type === "parallel") {
        const join = ipdom.get(at);
        const joinNode = join ? byId.get(join) : undefined;
        const after = join ? (out.get(join) ?? []) : [];
        if (outs.length < 2 || !join || joinNode?.type !== "parallel" || after.length !== 1 || !plain(after[0])) throw new Unsupported(`parallel ${at}`);
        blocks.push({ kind: "parallel", node, join: joinNode, branches: outs.map((e) => ({ edge: props(e), blocks: sequence(e.to, join) })) });
        at = after[0].to;
      } else {
        if (outs.length !== 1 || !plain(outs[0])) throw new Unsupported(`node ${at}`);
        blocks.push({ kind: "task", node });
        at = outs[0].to;
      }
    }
    return blocks;
  };
  const first = out.get(start.id) ?? [];
  if (first.length !== 1 || !plain(first[0])) throw new Unsupported("start");
  const tree: FlowTree = { start, end, blocks: sequence(first[0].to, end.id) };
  if (!sameGraph({ nodes, edges }, compile(tree))) throw new Unsupported("the graph does not read back");
  return tree;
}

/** The nodes in an order where every edge goes forward; `Unsupported` when there is a loop. */
function topological(nodes: FlowNodeDef[], out: Map<string, FlowEdgeDef[]>): string[] {
  const incoming = new Map(nodes.map((n) => [n.id, 0]));
  for (const list of out.values()) for (const e of list) incoming.set(e.to, (incoming.get(e.to) ?? 0) + 1);
  const ready = nodes.filter((n) => incoming.get(n.id) === 0).map((n) => n.id);
  const order: string[] = [];
  while (ready.length) {
    const id = ready.shift()!;
    order.push(id);
    for (const e of out.get(id) ?? []) {
      const left = incoming.get(e.to)! - 1;
      incoming.set(e.to, left);
      if (left === 0) ready.push(e.to);
    }
  }
  if (order.length !== nodes.length) throw new Unsupported("a loop");
  return order;
}

/** Each node's immediate post-dominator towards `end` (the first node every path from it to
 * the end passes): where a gateway's branches meet again. Nodes that cannot reach the end have
 * none. */
function postDominators(order: string[], out: Map<string, FlowEdgeDef[]>, end: string): Map<string, string> {
  const sets = new Map<string, Set<string>>();
  for (const id of [...order].reverse()) {
    if (id === end) {
      sets.set(id, new Set([id]));
      continue;
    }
    const succ = (out.get(id) ?? []).map((e) => sets.get(e.to));
    if (!succ.length || succ.some((s) => !s)) continue; // reaches no end (a dead end)
    let common = new Set(succ[0]!);
    for (const s of succ.slice(1)) common = new Set([...common].filter((x) => s!.has(x)));
    common.add(id);
    sets.set(id, common);
  }
  const immediate = new Map<string, string>();
  for (const [id, set] of sets) {
    let best: string | null = null;
    for (const candidate of set) {
      if (candidate === id) continue;
      if (best === null || sets.get(candidate)!.size > sets.get(best)!.size) best = candidate;
    }
    if (best !== null) immediate.set(id, best);
  }
  return immediate;
}

/** Whether two graphs are the same flow: the same nodes (by id, properties compared) and for
 * every node the same outgoing edges in the same order. */
export function sameGraph(a: Pick<FlowDef, "nodes" | "edges">, b: Pick<FlowDef, "nodes" | "edges">): boolean {
  const nodes = (g: Pick<FlowDef, "nodes">) => new Map(g.nodes.map((n) => [n.id, canonical(cleanNode(n))]));
  const na = nodes(a);
  const nb = nodes(b);
  if (na.size !== a.nodes.length || nb.size !== b.nodes.length || na.size !== nb.size) return false;
  for (const [id, text] of na) if (nb.get(id) !== text) return false;
  const outs = (g: Pick<FlowDef, "edges">) => {
    const map = new Map<string, string[]>();
    for (const e of g.edges) map.set(e.from, [...(map.get(e.from) ?? []), canonical({ to: e.to, ...cleanEdgeProps(e) })]);
    return map;
  };
  const oa = outs(a);
  const ob = outs(b);
  if (oa.size !== ob.size) return false;
  for (const [from, list] of oa) if (JSON.stringify(list) !== JSON.stringify(ob.get(from))) return false;
  return true;
}

/** JSON with object keys sorted, so equal values give equal texts. */
export function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === "object" && !Array.isArray(v) ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0))) : v,
  );
}

// ---------------------------------------------------------------------------------------------
// Editing: every function returns a new tree and leaves its argument as it was.

/** Where a chain is: the main chain (`[]`), or a branch of a gateway (`{gateway, branch}`),
 * gateways named by node id. */
export type ChainAt = { gateway: string; branch: number } | null;

/** Every node id of the tree (gateways and joins included). */
export function nodeIds(tree: FlowTree): Set<string> {
  const ids = new Set([tree.start.id, tree.end.id]);
  walk(tree.blocks, (block) => {
    ids.add(block.node.id);
    if (block.kind === "parallel") ids.add(block.join.id);
  });
  return ids;
}

/** Calls `visit` on every block, depth first in chain order. */
export function walk(blocks: Block[], visit: (block: Block) => void): void {
  for (const block of blocks) {
    visit(block);
    if (block.kind !== "task") for (const branch of block.branches) walk(branch.blocks, visit);
  }
}

/** A node id not in `taken`: `<prefix>_<n>` with the smallest n ≥ 1. */
export function freshId(prefix: string, taken: Set<string>): string {
  for (let n = 1; ; n++) {
    const id = `${prefix}_${n}`;
    if (!taken.has(id)) return id;
  }
}

/** A new block of `kind` with fresh ids: a task node with the type's defaults, or a gateway
 * with two branches (a choice: one conditioned, then the default). */
export function newBlock(tree: FlowTree, kind: TaskType | "exclusive" | "parallel"): Block {
  const taken = nodeIds(tree);
  if (kind === "exclusive") {
    return { kind, node: { id: freshId("route", taken), type: "exclusive" }, branches: [{ edge: {}, blocks: [] }, { edge: { default: true }, blocks: [] }] };
  }
  if (kind === "parallel") {
    const id = freshId("parallel", taken);
    taken.add(id);
    return { kind, node: { id, type: "parallel" }, join: { id: freshId("join", taken), type: "parallel" }, branches: [{ edge: {}, blocks: [] }, { edge: {}, blocks: [] }] };
  }
  return { kind: "task", node: { id: freshId(kind, taken), type: kind, assignees: [] } };
}

function clone(tree: FlowTree): FlowTree {
  return structuredClone(tree);
}

/** The blocks of the chain at `at` in `tree` (the live array: callers clone first). */
function chainOf(tree: FlowTree, at: ChainAt): Block[] {
  if (!at) return tree.blocks;
  const gateway = findBlock(tree.blocks, at.gateway);
  if (!gateway || gateway.kind === "task" || !gateway.branches[at.branch]) throw new Error(`no branch ${at.gateway}#${at.branch}`);
  return gateway.branches[at.branch].blocks;
}

/** The block whose node (or parallel join) has id `id`. */
export function findBlock(blocks: Block[], id: string): Block | undefined {
  let found: Block | undefined;
  walk(blocks, (block) => {
    if (!found && (block.node.id === id || (block.kind === "parallel" && block.join.id === id))) found = block;
  });
  return found;
}

/** `block` inserted into the chain at `at`, before position `index`. */
export function insertBlock(tree: FlowTree, at: ChainAt, index: number, block: Block): FlowTree {
  const next = clone(tree);
  chainOf(next, at).splice(index, 0, block);
  return next;
}

/** The block of node `id` removed (with everything in its branches). */
export function removeBlock(tree: FlowTree, id: string): FlowTree {
  const next = clone(tree);
  const remove = (blocks: Block[]): boolean => {
    const i = blocks.findIndex((b) => b.node.id === id);
    if (i >= 0) {
      blocks.splice(i, 1);
      return true;
    }
    return blocks.some((b) => b.kind !== "task" && b.branches.some((br) => remove(br.blocks)));
  };
  remove(next.blocks);
  return next;
}

/** Node `id` (start, end, a task or a gateway) with `change` applied; `undefined` values remove
 * properties. */
export function patchNode(tree: FlowTree, id: string, change: Record<string, unknown>): FlowTree {
  const next = clone(tree);
  const apply = (node: FlowNodeDef) => {
    for (const [key, value] of Object.entries(change)) {
      if (value === undefined) delete node[key];
      else node[key] = value;
    }
  };
  if (next.start.id === id) apply(next.start);
  else if (next.end.id === id) apply(next.end);
  else {
    const block = findBlock(next.blocks, id);
    if (block) apply(block.node.id === id ? block.node : (block as { join: FlowNodeDef }).join);
  }
  return next;
}

/** The entry edge of branch `branch` of gateway `gateway` with `change` applied. */
export function patchBranch(tree: FlowTree, gateway: string, branch: number, change: Partial<EdgeProps>): FlowTree {
  const next = clone(tree);
  const block = findBlock(next.blocks, gateway);
  if (!block || block.kind === "task") return tree;
  const edge = { ...block.branches[branch].edge };
  for (const [key, value] of Object.entries(change)) {
    if (value === undefined) delete edge[key];
    else edge[key] = value;
  }
  block.branches[branch].edge = cleanEdgeProps(edge);
  return next;
}

/** A new empty branch in gateway `gateway`: a choice gets a conditioned one before its default
 * (when the default is last), a parallel block one more at the end. */
export function addBranch(tree: FlowTree, gateway: string): FlowTree {
  const next = clone(tree);
  const block = findBlock(next.blocks, gateway);
  if (!block || block.kind === "task") return tree;
  const last = block.branches.length - 1;
  const at = block.kind === "exclusive" && block.branches[last]?.edge.default ? last : block.branches.length;
  block.branches.splice(at, 0, { edge: {}, blocks: [] });
  return next;
}

/** Branch `branch` of gateway `gateway` removed with its nodes. A gateway left with one branch
 * is dissolved: that branch's nodes take its place in the chain. Removing a choice's default
 * makes its last remaining branch the default. */
export function removeBranch(tree: FlowTree, gateway: string, branch: number): FlowTree {
  const next = clone(tree);
  const dissolve = (blocks: Block[]): boolean => {
    const i = blocks.findIndex((b) => b.node.id === gateway);
    if (i >= 0) {
      const block = blocks[i];
      if (block.kind === "task") return true;
      const wasDefault = !!block.branches[branch]?.edge.default;
      block.branches.splice(branch, 1);
      if (block.branches.length < 2) blocks.splice(i, 1, ...(block.branches[0]?.blocks ?? []));
      else if (block.kind === "exclusive" && wasDefault) {
        const last = block.branches[block.branches.length - 1];
        last.edge = cleanEdgeProps({ ...last.edge, when: undefined, default: true });
      }
      return true;
    }
    return blocks.some((b) => b.kind !== "task" && b.branches.some((br) => dissolve(br.blocks)));
  };
  dissolve(next.blocks);
  return next;
}

export type StructureCode = "choice_ends_parallel_branch" | "choice_before_parallel" | "empty_branches";

/** Problems the server would report in words a business user cannot act on, found before
 * saving, each naming a gateway's node id: a choice as the last step of a parallel branch (its
 * branches would meet at the join) or right before a parallel block (they would meet at the
 * split, making it a join too) — a step after the choice fixes both; and two empty branches
 * of one gateway (the same connection twice). */
export function structureIssues(tree: FlowTree): { node: string; code: StructureCode }[] {
  const found: { node: string; code: StructureCode }[] = [];
  type Next = "end" | "join" | "parallel" | "step";
  const visit = (blocks: Block[], after: Next) => {
    blocks.forEach((block, i) => {
      const following = blocks[i + 1];
      const next: Next = following ? (following.kind === "parallel" ? "parallel" : "step") : after;
      if (block.kind === "task") return;
      if (block.branches.filter((b) => !b.blocks.length).length > 1) found.push({ node: block.node.id, code: "empty_branches" });
      if (block.kind === "exclusive") {
        if (next === "join") found.push({ node: block.node.id, code: "choice_ends_parallel_branch" });
        if (next === "parallel") found.push({ node: block.node.id, code: "choice_before_parallel" });
        for (const branch of block.branches) visit(branch.blocks, next);
      } else for (const branch of block.branches) visit(branch.blocks, "join");
    });
  };
  visit(tree.blocks, "end");
  return found;
}
