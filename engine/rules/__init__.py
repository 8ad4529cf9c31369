"""The rules engine (automation, DESIGN §9). So far its spec: `engine.rules.spec` (registered as
the definition part `rules`)."""

from __future__ import annotations

from engine.rules.spec import RuleSpec

__all__ = ["RuleSpec"]
