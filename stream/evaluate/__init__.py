"""Offline evaluation of the score (issue B): `run_higgs` and its report."""

from stream.evaluate.higgs import HiggsReport, format_report, run_higgs

__all__ = ["HiggsReport", "format_report", "run_higgs"]
