"""Where the service errors used to live: they are `engine.core.errors` now (issue 11).

Kept only so code written against the old path keeps importing; new code imports
`engine.core.errors`.
"""

from __future__ import annotations

from engine.core.errors import ServiceError, forbidden, invalid, not_found

__all__ = ["ServiceError", "forbidden", "invalid", "not_found"]
