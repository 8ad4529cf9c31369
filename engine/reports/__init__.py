"""The reports engine (DESIGN §10). So far its specs: `engine.reports.spec` (registered as the
definition parts `reports` and `dashboards`)."""

from __future__ import annotations

from engine.reports.spec import DashboardSpec, ReportSpec

__all__ = ["DashboardSpec", "ReportSpec"]
