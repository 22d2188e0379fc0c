"""memsim.report — offline plotly HTML reports for runs, sweeps and hardware comparisons.

``write_run_report(result, path)``, ``write_sweep_report(results_df, spec_info, path)``,
``write_compare_report(entries, path, ...)`` and ``write_report_from_dir(directory, path)``; see
docs/reports.md for every figure.
"""

from __future__ import annotations


def write_run_report(result, path):
    """Write the run report of ``result`` (a ``Result``) to ``path``; returns the path."""
    from memsim.report.run import write_run_report as _write

    return _write(result, path)


def write_sweep_report(results_df, spec_info, path):
    """Write the sweep report of a sweep's results table to ``path``; returns the path."""
    from memsim.report.sweep import write_sweep_report as _write

    return _write(results_df, spec_info, path)


def write_compare_report(entries, path, **kwargs):
    """Write the hardware comparison report of ``entries`` to ``path``; returns the path."""
    from memsim.report.compare import write_compare_report as _write

    return _write(entries, path, **kwargs)


def write_report_from_dir(directory, path=None, *, png_dir=None):
    """Detect a run or sweep results directory and write its report; returns the HTML path."""
    from memsim.report.load import write_report_from_dir as _write

    return _write(directory, path, png_dir=png_dir)


__all__ = ["write_run_report", "write_sweep_report", "write_compare_report", "write_report_from_dir"]
