/** The department directory (`GET /directory/departments`, a flat list) as the picker's tree. */

export type Listed = { id: number; name: string; parent_id: number | null };
export type DepartmentNode = { value: number; title: string; children: DepartmentNode[] };

/** Children under their parents, in the directory's order; a department whose parent is not
 * listed is a root. */
export function departmentTree(listed: Listed[]): DepartmentNode[] {
  const nodes = new Map(listed.map((d) => [d.id, { value: d.id, title: d.name, children: [] as DepartmentNode[] }]));
  const roots: DepartmentNode[] = [];
  for (const d of listed) {
    const parent = d.parent_id === null ? undefined : nodes.get(d.parent_id);
    (parent ? parent.children : roots).push(nodes.get(d.id)!);
  }
  return roots;
}
