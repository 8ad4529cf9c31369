"""The rules engine (automation, DESIGN §9, issue 14).

- `engine.rules.spec`: the definition part `rules` and its publish checks;
- `engine.rules.kinds`: the contracts of triggers, actions and value kinds (registries);
- `engine.rules.triggers`, `engine.rules.actions`, `engine.rules.values`: the record and flow
  triggers, the record-writing actions, the `copy`/`value` kinds;
- `engine.rules.condition`: conditions and formulas over the triggering record, with `OLD()`;
- `engine.rules.runtime`, `engine.rules.listeners`: running rules on record changes (sync in
  the saving transaction, async as `rules.run` jobs), `fire`, test runs, retries;
- `engine.rules.models`: the run log and the switches (migration `0014_rules`).
"""

from __future__ import annotations

from engine.rules.spec import RuleSpec

__all__ = ["RuleSpec"]
