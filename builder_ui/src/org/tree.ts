/** Pure helpers of the 通讯录 page: the department list (`GET /departments`, flat, roots first)
 * as a tree and as a move picker, a department's path, and the import's row errors as table rows. */

export interface OrgDepartment {
  id: number;
  name: string;
  parent_id: number | null;
  head_user_id: number | null;
  sort: number;
}

export interface OrgTreeNode {
  key: number;
  title: string;
  children: OrgTreeNode[];
}

/** Children under their parents in the listed order; a department whose parent is not listed
 * (or that would close a loop) is a root. */
export function orgTree(listed: OrgDepartment[]): OrgTreeNode[] {
  const nodes = new Map(listed.map((d) => [d.id, { key: d.id, title: d.name, children: [] as OrgTreeNode[] }]));
  const parents = new Map(listed.map((d) => [d.id, d.parent_id]));
  const loops = (id: number): boolean => {
    const seen = new Set<number>();
    for (let at: number | null | undefined = id; at != null; at = parents.get(at)) {
      if (seen.has(at)) return true;
      seen.add(at);
    }
    return false;
  };
  const roots: OrgTreeNode[] = [];
  for (const d of listed) {
    const parent = d.parent_id === null || loops(d.id) ? undefined : nodes.get(d.parent_id);
    (parent ? parent.children : roots).push(nodes.get(d.id)!);
  }
  return roots;
}

/** The tree for a "move to…" picker: every department, the moved one disabled. Its own
 * sub-departments stay pickable: the server refuses them with a message that says why. */
export type PickerNode = { value: number; title: string; disabled: boolean; children: PickerNode[] };

export function moveTargets(listed: OrgDepartment[], moved: number): PickerNode[] {
  const convert = (node: OrgTreeNode): PickerNode => ({
    value: node.key,
    title: node.title,
    disabled: node.key === moved,
    children: node.children.map(convert),
  });
  return orgTree(listed).map(convert);
}

/** The path of names from the top to a department (`销售部 / 华东销售组`). */
export function departmentPath(listed: OrgDepartment[], id: number | null): string {
  const byId = new Map(listed.map((d) => [d.id, d]));
  const names: string[] = [];
  const seen = new Set<number>();
  for (let at = id === null ? undefined : byId.get(id); at && !seen.has(at.id); at = at.parent_id === null ? undefined : byId.get(at.parent_id)) {
    seen.add(at.id);
    names.unshift(at.name);
  }
  return names.join(" / ");
}

/** One row error of the import's dry run. */
export interface RowError {
  sheet: string;
  row: number;
  column: string;
  code: string;
  message: { zh: string; en: string };
}

export interface RowErrorLine {
  key: string;
  sheet: string;
  row: number;
  column: string;
  message: string;
}

/** Row errors as table lines in the UI's language, in sheet and row order as the server sent
 * them, each with a unique key. */
export function rowErrorLines(errors: RowError[], language: string): RowErrorLine[] {
  const en = language.startsWith("en");
  return errors.map((e, index) => ({
    key: `${e.sheet}-${e.row}-${e.column}-${index}`,
    sheet: e.sheet,
    row: e.row,
    column: e.column,
    message: en ? e.message.en : e.message.zh,
  }));
}
