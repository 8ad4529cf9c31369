"""The flow engine (approvals, DESIGN §8). So far its spec: `engine.flows.spec` (registered as
the definition part `flows`)."""

from __future__ import annotations

from engine.flows.spec import FlowSpec

__all__ = ["FlowSpec"]
