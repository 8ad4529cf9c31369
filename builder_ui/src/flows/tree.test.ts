import { describe, expect, it } from "vitest";
import crm from "../../../apps_catalog/crm/app.json";
import {
  addBranch,
  compile,
  emptyTree,
  insertBlock,
  newBlock,
  parse,
  patchBranch,
  patchNode,
  removeBlock,
  removeBranch,
  sameGraph,
  structureIssues,
  Unsupported,
  type Block,
  type FlowDef,
  type FlowTree,
} from "./tree";

/** The CRM contract approval as the server stores it (every edge with `default`, every node
 * with `fields`, as `GET /apps/{app}` answers). */
const CONTRACT: Pick<FlowDef, "nodes" | "edges"> = {
  nodes: [
    { id: "start", type: "start", fields: {} },
    { id: "route", type: "exclusive", fields: {} },
    { id: "director", type: "approve", name: { zh: "销售总监审批" }, assignees: [{ role: "sales_director" }], fields: { amount: "read_only" } },
    { id: "countersign", type: "approve", assignees: [{ role: "sales_director" }, { role: "general_manager" }], mode: "all", fields: {} },
    { id: "finance", type: "cc", assignees: [{ role: "finance" }], fields: {} },
    { id: "end", type: "end", fields: {} },
  ],
  edges: [
    { from: "start", to: "route", default: false },
    { from: "route", to: "director", when: "amount < 50000", default: false },
    { from: "route", to: "countersign", default: true },
    { from: "director", to: "finance", default: false },
    { from: "countersign", to: "finance", default: false },
    { from: "finance", to: "end", default: false },
  ],
};

const task = (id: string, type = "approve"): Block => ({ kind: "task", node: { id, type, assignees: [{ role: "r" }] } });

describe("flow tree ⇄ graph", () => {
  it("reads the stored contract approval as a chain with a two-branch choice and writes it back", () => {
    const tree = parse(CONTRACT);
    expect(tree.blocks.map((b) => b.kind)).toEqual(["exclusive", "task"]);
    const choice = tree.blocks[0];
    if (choice.kind !== "exclusive") throw new Error("a choice");
    expect(choice.branches.map((b) => b.edge)).toEqual([{ when: "amount < 50000" }, { default: true }]);
    expect(choice.branches.map((b) => b.blocks.map((x) => x.node.id))).toEqual([["director"], ["countersign"]]);
    expect(tree.blocks[1].node).toEqual({ id: "finance", type: "cc", assignees: [{ role: "finance" }] });
    const graph = compile(tree);
    expect(sameGraph(graph, CONTRACT)).toBe(true);
    expect(graph.nodes.map((n) => n.id)).toEqual(["start", "route", "director", "countersign", "finance", "end"]);
    expect(graph.edges).toEqual([
      { from: "start", to: "route" },
      { from: "route", to: "director", when: "amount < 50000" },
      { from: "director", to: "finance" },
      { from: "route", to: "countersign", default: true },
      { from: "countersign", to: "finance" },
      { from: "finance", to: "end" },
    ]);
    expect(graph.owners[1]).toEqual({ gateway: "route", branch: 0 });
    expect(graph.owners[3]).toEqual({ gateway: "route", branch: 1 });
    expect(graph.owners[0]).toBeNull();
  });

  it("opens the CRM pack's flows as chains that compile back to the same graphs", () => {
    const flows = (crm as { flows?: FlowDef[] }).flows ?? [];
    expect(flows.map((f) => f.key)).toContain("contract_approval");
    for (const flow of flows) {
      const tree = parse(flow);
      expect(sameGraph(compile(tree), flow)).toBe(true);
      expect(tree.blocks.length).toBeGreaterThan(0);
    }
  });

  it("builds the contract approval by editing and compiles it to the graph the server expects", () => {
    let tree = emptyTree();
    const choice = newBlock(tree, "exclusive");
    tree = insertBlock(tree, null, 0, choice);
    const gateway = choice.node.id;
    tree = patchBranch(tree, gateway, 0, { when: "amount < 50000" });
    const director = newBlock(tree, "approve");
    tree = insertBlock(tree, { gateway, branch: 0 }, 0, director);
    tree = patchNode(tree, director.node.id, { assignees: [{ role: "sales_director" }] });
    const board = newBlock(tree, "approve");
    tree = insertBlock(tree, { gateway, branch: 1 }, 0, board);
    tree = patchNode(tree, board.node.id, { assignees: [{ role: "sales_director" }, { role: "general_manager" }], mode: "all" });
    const cc = newBlock(tree, "cc");
    tree = insertBlock(tree, null, 1, cc);
    tree = patchNode(tree, cc.node.id, { assignees: [{ role: "finance" }] });
    const graph = compile(tree);
    expect(graph.nodes.map((n) => `${n.id}:${n.type}`)).toEqual(["start:start", "route_1:exclusive", "approve_1:approve", "approve_2:approve", "cc_1:cc", "end:end"]);
    expect(graph.edges).toEqual([
      { from: "start", to: "route_1" },
      { from: "route_1", to: "approve_1", when: "amount < 50000" },
      { from: "approve_1", to: "cc_1" },
      { from: "route_1", to: "approve_2", default: true },
      { from: "approve_2", to: "cc_1" },
      { from: "cc_1", to: "end" },
    ]);
    expect(parse(graph)).toEqual(tree);
  });

  it("round-trips nested choices, an empty default branch and a choice at the end", () => {
    const tree: FlowTree = {
      ...emptyTree(),
      blocks: [
        task("a"),
        {
          kind: "exclusive",
          node: { id: "outer", type: "exclusive" },
          branches: [
            {
              edge: { when: "x > 1" },
              blocks: [
                task("b"),
                {
                  kind: "exclusive",
                  node: { id: "inner", type: "exclusive" },
                  branches: [
                    { edge: { when: "y > 1" }, blocks: [task("c")] },
                    { edge: { default: true }, blocks: [task("d"), task("e", "handle")] },
                  ],
                },
              ],
            },
            { edge: { when: "x > 0", name: "small" }, blocks: [task("f", "cc")] },
            { edge: { default: true }, blocks: [] },
          ],
        },
      ],
    };
    const graph = compile(tree);
    // inner's branches and outer's other branches all meet at the end
    expect(graph.edges.filter((e) => e.to === "end").map((e) => e.from)).toEqual(["c", "e", "f", "outer"]);
    expect(parse(graph)).toEqual(tree);
    // edge order inside the array does not matter, only each node's own order
    expect(parse({ nodes: [...graph.nodes].reverse(), edges: [...graph.edges].sort((x, y) => (x.from === y.from ? 0 : x.from < y.from ? -1 : 1)) })).toEqual(tree);
  });

  it("round-trips a parallel block inside a choice's branch, and a choice inside a parallel branch", () => {
    const tree: FlowTree = {
      ...emptyTree(),
      blocks: [
        {
          kind: "exclusive",
          node: { id: "route", type: "exclusive" },
          branches: [
            {
              edge: { when: "amount >= 100" },
              blocks: [
                {
                  kind: "parallel",
                  node: { id: "split", type: "parallel" },
                  join: { id: "join", type: "parallel" },
                  branches: [
                    { edge: {}, blocks: [task("legal"), task("ceo")] },
                    {
                      edge: {},
                      blocks: [
                        {
                          kind: "exclusive",
                          node: { id: "inner", type: "exclusive" },
                          branches: [
                            { edge: { when: "amount > 1000" }, blocks: [task("cfo")] },
                            { edge: { default: true }, blocks: [] },
                          ],
                        },
                        task("archive", "handle"),
                      ],
                    },
                    { edge: {}, blocks: [] },
                  ],
                },
                task("after", "cc"),
              ],
            },
            { edge: { default: true }, blocks: [task("clerk")] },
          ],
        },
      ],
    };
    const graph = compile(tree);
    expect(graph.edges.filter((e) => e.to === "join").map((e) => e.from)).toEqual(["ceo", "archive", "split"]);
    expect(graph.edges.filter((e) => e.from === "join")).toEqual([{ from: "join", to: "after" }]);
    expect(parse(graph)).toEqual(tree);
    expect(structureIssues(tree)).toEqual([]);
  });

  it("a draft without nodes is the empty chain, which compiles to start → end", () => {
    expect(parse({ nodes: [], edges: [] })).toEqual(emptyTree());
    expect(compile(emptyTree())).toEqual({
      nodes: [
        { id: "start", type: "start" },
        { id: "end", type: "end" },
      ],
      edges: [{ from: "start", to: "end" }],
      owners: [null],
    });
  });

  it("refuses graphs the tree cannot show exactly, so they are kept read-only", () => {
    const base = compile(parse(CONTRACT));
    const refused = (graph: Pick<FlowDef, "nodes" | "edges">) => expect(() => parse(graph)).toThrow(Unsupported);
    // a loop back through a choice
    refused({ ...base, edges: [...base.edges, { from: "finance", to: "route" }].filter((e) => !(e.from === "finance" && e.to === "end")) });
    // two ends
    refused({
      nodes: [...base.nodes, { id: "end2", type: "end" }],
      edges: base.edges.map((e) => (e.from === "countersign" ? { ...e, to: "end2" } : e)),
    });
    // branches that cross: the director's step also leads into the countersign branch
    refused({
      nodes: [...base.nodes, { id: "extra", type: "exclusive" }],
      edges: [
        ...base.edges.filter((e) => e.from !== "director"),
        { from: "director", to: "extra" },
        { from: "extra", to: "countersign", when: "amount > 1" },
        { from: "extra", to: "finance", default: true },
      ],
    });
    // a property on a plain edge, an unknown node, a duplicate id
    refused({ ...base, edges: base.edges.map((e) => (e.from === "finance" ? { ...e, label: "x" } : e)) });
    refused({ ...base, edges: [...base.edges, { from: "ghost", to: "end" }] });
    refused({ ...base, nodes: [...base.nodes, { id: "finance", type: "cc" }] });
    // a node nothing reaches is not silently dropped
    refused({ ...base, nodes: [...base.nodes, { id: "orphan", type: "cc", assignees: [{ role: "finance" }] }] });
  });
});

describe("editing the tree", () => {
  const withChoice = (): FlowTree => insertBlock(emptyTree(), null, 0, newBlock(emptyTree(), "exclusive"));

  it("adds conditioned branches before the default and removes them", () => {
    let tree = addBranch(withChoice(), "route_1");
    const choice = tree.blocks[0];
    if (choice.kind !== "exclusive") throw new Error("a choice");
    expect(choice.branches.map((b) => b.edge)).toEqual([{}, {}, { default: true }]);
    tree = removeBranch(tree, "route_1", 0);
    expect((tree.blocks[0] as typeof choice).branches.map((b) => b.edge)).toEqual([{}, { default: true }]);
  });

  it("dissolves a gateway left with one branch, keeping that branch's steps in place", () => {
    let tree = insertBlock(withChoice(), { gateway: "route_1", branch: 1 }, 0, task("keep"));
    tree = insertBlock(tree, null, 1, task("after"));
    tree = removeBranch(tree, "route_1", 0);
    expect(tree.blocks.map((b) => b.node.id)).toEqual(["keep", "after"]);
  });

  it("removing a choice's default makes its last branch the default", () => {
    let tree = addBranch(withChoice(), "route_1");
    tree = patchBranch(tree, "route_1", 1, { when: "x > 1" });
    tree = removeBranch(tree, "route_1", 2);
    expect((tree.blocks[0] as { branches: { edge: object }[] }).branches.map((b) => b.edge)).toEqual([{}, { default: true }]);
  });

  it("removes a block with its branches, and new ids never collide", () => {
    let tree = withChoice();
    tree = insertBlock(tree, { gateway: "route_1", branch: 0 }, 0, newBlock(tree, "approve"));
    const second = newBlock(tree, "approve");
    expect(second.node.id).toBe("approve_2");
    const parallel = newBlock(tree, "parallel");
    expect(parallel.kind === "parallel" && [parallel.node.id, parallel.join.id]).toEqual(["parallel_1", "join_1"]);
    tree = removeBlock(tree, "route_1");
    expect(tree.blocks).toEqual([]);
    expect(compile(tree).edges).toEqual([{ from: "start", to: "end" }]);
  });

  it("patching a node sets and removes properties, on the chain and in branches", () => {
    let tree = insertBlock(withChoice(), { gateway: "route_1", branch: 0 }, 0, task("a"));
    tree = patchNode(tree, "a", { mode: "all", pass_ratio: 0.5 });
    tree = patchNode(tree, "a", { pass_ratio: undefined, name: { zh: "经理" } });
    expect(compile(tree).nodes.find((n) => n.id === "a")).toEqual({ id: "a", type: "approve", assignees: [{ role: "r" }], mode: "all", name: { zh: "经理" } });
  });

  it("flags what the server would refuse in words a user cannot act on", () => {
    const parallel = newBlock(emptyTree(), "parallel");
    let tree = insertBlock(emptyTree(), null, 0, parallel);
    expect(structureIssues(tree)).toEqual([{ node: "parallel_1", code: "empty_branches" }]);
    tree = insertBlock(tree, { gateway: "parallel_1", branch: 0 }, 0, newBlock(tree, "exclusive"));
    expect(structureIssues(tree)).toEqual([
      { node: "route_1", code: "empty_branches" },
      { node: "route_1", code: "choice_ends_parallel_branch" },
    ]);
  });

  it("flags a choice right before a parallel block, also through a choice nested last in its branch", () => {
    let tree = insertBlock(emptyTree(), null, 0, newBlock(emptyTree(), "exclusive"));
    tree = insertBlock(tree, { gateway: "route_1", branch: 0 }, 0, task("a"));
    tree = insertBlock(tree, { gateway: "route_1", branch: 1 }, 0, task("b"));
    tree = insertBlock(tree, { gateway: "route_1", branch: 1 }, 1, newBlock(tree, "exclusive"));
    tree = insertBlock(tree, { gateway: "route_2", branch: 0 }, 0, task("c"));
    expect(structureIssues(tree)).toEqual([]);
    const parallel = newBlock(tree, "parallel");
    tree = insertBlock(tree, null, 1, parallel);
    tree = insertBlock(tree, { gateway: parallel.node.id, branch: 0 }, 0, task("d"));
    tree = insertBlock(tree, { gateway: parallel.node.id, branch: 1 }, 0, task("e"));
    expect(structureIssues(tree)).toEqual([
      { node: "route_1", code: "choice_before_parallel" },
      { node: "route_2", code: "choice_before_parallel" },
    ]);
    tree = insertBlock(tree, null, 1, task("between"));
    expect(structureIssues(tree)).toEqual([]);
  });
});
