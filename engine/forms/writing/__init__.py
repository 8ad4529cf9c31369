"""The record pipeline's steps, split along their seams (issue 11, item 8): `base` (the writer's
state), `defaults` (defaults, stored formulas, serials), `convert` (input to `Prepared`),
`checks` (rights, references, unique, required, locks, validations) and `writes` (rows,
subform rows, links). Each is a class stacked on the one before; `engine.forms.records.Writer`
stacks them all and runs them in order, ending in the change path (`engine.forms.changes`)."""
