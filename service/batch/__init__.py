"""Batch match reports over a portfolio of initiatives (``partnermatch report``).

:func:`~service.batch.report.run_report` runs every initiative on an engine
(:mod:`service.batch.engines`: a local process pool or Dask), renders each one's report
(:mod:`service.batch.render`) and writes the portfolio view; the algorithms of the view are
those of :mod:`matcher.engine.portfolio`.
"""

from __future__ import annotations

from service.batch.report import ReportOptions, ReportSummary, run_report

__all__ = ["ReportOptions", "ReportSummary", "run_report"]
