"""Reporting: output groups, the JSON report, the terminal summary and the live progress display.

Renders ``fleet.model`` objects only; never talks to Azure or drives the engine.
"""

from fleet.report.groups import OutputGroup, group_results, normalize, summarize
from fleet.report.json_report import exit_code_for, report_to_dict, write_report
from fleet.report.progress import ProgressDisplay
from fleet.report.render import render_summary

__all__ = [
    "OutputGroup",
    "ProgressDisplay",
    "exit_code_for",
    "group_results",
    "normalize",
    "render_summary",
    "report_to_dict",
    "summarize",
    "write_report",
]
