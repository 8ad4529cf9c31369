// The graphs the designer compiles for every way its blocks nest, kept in
// test-support/flow-shapes.json: tests/flows/test_designer_shapes.py publishes-checks each one
// against the server's graph rules (the accepted ones pass; the refused ones are exactly those
// `structureIssues` flags before saving, with the server's code). When a tree here changes,
// write the new graphs into that file (the failing test prints them).
import { describe, expect, it } from "vitest";
import stored from "../../test-support/flow-shapes.json";
import { compile, emptyTree, insertBlock, newBlock, patchBranch, patchNode, structureIssues, type ChainAt, type FlowTree, type StructureCode } from "./tree";

/** A tree built step by step; `add` returns the new block's node id. */
function builder() {
  let tree: FlowTree = emptyTree();
  const add = (at: ChainAt, index: number, kind: Parameters<typeof newBlock>[1], when?: string) => {
    const block = newBlock(tree, kind);
    tree = insertBlock(tree, at, index, block);
    if (block.kind === "task") tree = patchNode(tree, block.node.id, { assignees: [{ role: "finance" }] });
    if (block.kind === "exclusive") tree = patchBranch(tree, block.node.id, 0, { when: when ?? "amount > 1" });
    return block.node.id;
  };
  return { add, tree: () => tree };
}

const accepted: Record<string, () => FlowTree> = {
  contract_approval: () => {
    const b = builder();
    const route = b.add(null, 0, "exclusive", "amount < 50000");
    b.add({ gateway: route, branch: 0 }, 0, "approve");
    b.add({ gateway: route, branch: 1 }, 0, "approve");
    b.add(null, 1, "cc");
    return b.tree();
  },
  nested_everything: () => {
    const b = builder();
    const x = b.add(null, 0, "exclusive", "amount < 50000");
    const p = b.add({ gateway: x, branch: 0 }, 0, "parallel");
    b.add({ gateway: p, branch: 0 }, 0, "approve");
    const y = b.add({ gateway: p, branch: 1 }, 0, "exclusive", "amount > 10");
    b.add({ gateway: y, branch: 0 }, 0, "handle");
    b.add({ gateway: p, branch: 1 }, 1, "cc");
    b.add({ gateway: x, branch: 1 }, 0, "approve");
    const z = b.add(null, 1, "exclusive", "amount > 5");
    b.add({ gateway: z, branch: 0 }, 0, "approve");
    b.add(null, 2, "handle");
    const q = b.add(null, 3, "parallel");
    b.add({ gateway: q, branch: 0 }, 0, "approve");
    const w = b.add(null, 4, "exclusive", "amount > 7");
    b.add({ gateway: w, branch: 0 }, 0, "cc");
    const v = b.add(null, 5, "exclusive", "amount > 8");
    b.add({ gateway: v, branch: 1 }, 0, "cc");
    return b.tree();
  },
  parallel_after_parallel: () => {
    const b = builder();
    const p = b.add(null, 0, "parallel");
    b.add({ gateway: p, branch: 0 }, 0, "approve");
    b.add({ gateway: p, branch: 1 }, 0, "approve");
    const q = b.add(null, 1, "parallel");
    b.add({ gateway: q, branch: 0 }, 0, "handle");
    return b.tree();
  },
};

const refused: Record<string, { tree: () => FlowTree; code: StructureCode }> = {
  choice_before_parallel: {
    code: "choice_before_parallel",
    tree: () => {
      const b = builder();
      const x = b.add(null, 0, "exclusive");
      b.add({ gateway: x, branch: 0 }, 0, "approve");
      const p = b.add(null, 1, "parallel");
      b.add({ gateway: p, branch: 0 }, 0, "approve");
      return b.tree();
    },
  },
  choice_ends_parallel_branch: {
    code: "choice_ends_parallel_branch",
    tree: () => {
      const b = builder();
      const p = b.add(null, 0, "parallel");
      b.add({ gateway: p, branch: 0 }, 0, "approve");
      const x = b.add({ gateway: p, branch: 1 }, 0, "exclusive");
      b.add({ gateway: x, branch: 0 }, 0, "approve");
      return b.tree();
    },
  },
  empty_branches: {
    code: "empty_branches",
    tree: () => {
      const b = builder();
      b.add(null, 0, "exclusive");
      return b.tree();
    },
  },
};

const graph = (tree: FlowTree) => {
  const { nodes, edges } = compile(tree);
  return { nodes, edges };
};

describe("the shapes the server checks", () => {
  const shapes = {
    accepted: Object.fromEntries(Object.entries(accepted).map(([name, tree]) => [name, graph(tree())])),
    refused: Object.fromEntries(Object.entries(refused).map(([name, { tree, code }]) => [name, { code, ...graph(tree()) }])),
  };
  it("compile to the graphs in test-support/flow-shapes.json", () => {
    expect(stored).toEqual(shapes);
  });

  it("are flagged before saving exactly when the server refuses them", () => {
    for (const tree of Object.values(accepted)) expect(structureIssues(tree())).toEqual([]);
    for (const { tree, code } of Object.values(refused)) expect(structureIssues(tree()).map((i) => i.code)).toContain(code);
  });
});
