"""The list of claims that ``python -m verify.report`` runs, and how a claim joins it.

A claim module computes ``CheckResult``s in functions that the tests call directly (cached, so a
test and its negative control share one measurement) and registers one *section* for the report:

    @section("prop5.4", "Gradient variance (Prop 5.4)", order=20)
    def results(quick: bool) -> list[CheckResult]: ...

    @figure("prop5.4")
    def variance_figure(quick: bool, out: Path) -> list[Path]: ...

    @controls("prop5.4")
    def variance_controls(quick: bool) -> list[Control]: ...   # structural negative controls

``quick`` selects the configuration of the default ``pytest verify/`` run; the full one is the
report's default and the ``slow`` tests'. Adding a claim (say a proof step "C.12") is a new module
with these two decorators, imported in ``verify/claims.py``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

from verify.verdict import CheckResult, Control


@dataclass
class Section:
    claim: str
    title: str
    results: Callable[[bool], list[CheckResult]]
    order: int = 100
    #: how closely ``verify.record`` replays its rows with an interval (None: ``record.rtol_for``);
    #: inconclusive rows are then pinned by verdict only
    replay_rtol: Optional[float] = None
    figures: list[Callable[[bool, Path], list[Path]]] = field(default_factory=list)
    controls: list[Callable[[bool], list[Control]]] = field(default_factory=list)


SECTIONS: dict[str, Section] = {}


def section(claim: str, title: str, order: int = 100, replay_rtol: Optional[float] = None):
    """Register ``fn(quick) -> list[CheckResult]`` as the report section of ``claim``; a second section of
    the same name is an error, not a replacement."""
    if claim in SECTIONS:
        raise ValueError(f"a report section {claim!r} is registered already ({SECTIONS[claim].title})")

    def deco(fn):
        SECTIONS[claim] = Section(claim, title, fn, order, replay_rtol)
        return fn
    return deco


def figure(claim: str):
    """Register ``fn(quick, out_dir) -> list[Path]`` as a figure of ``claim``'s section."""
    def deco(fn):
        SECTIONS[claim].figures.append(fn)
        return fn
    return deco


def controls(claim: str):
    """Register ``fn(quick) -> list[Control]``, structural negative controls of ``claim``'s section."""
    def deco(fn):
        SECTIONS[claim].controls.append(fn)
        return fn
    return deco


def ordered() -> list[Section]:
    return sorted(SECTIONS.values(), key=lambda s: s.order)


def _coarse(x: float) -> float:
    """x to 9 significant digits: rows whose scores tie up to rounding (a sensitivity row's ratio is the
    same at every perturbation size) are ranked equal, and the first in the sweep's order decides, on
    every CPU."""
    return float(f"{x:.9g}")


def worst(results: list[CheckResult]) -> Optional[CheckResult]:
    """The row that decides a sweep: the most confident violation if any is violated, else an
    inconclusive one, else the tightest holding one (smallest bound / upper limit); ties up to
    rounding go to the first row."""
    if not results:
        return None

    def margin(r: CheckResult) -> float:
        # how far the interval sits on the wrong side of the bound, relative to the bound
        lo, hi = r.ci
        b = abs(r.bound) or 1e-300
        return _coarse((lo - r.bound) / b if r.direction == "le" else (r.bound - hi) / b)

    violated = [r for r in results if r.holds is False]
    if violated:
        return max(violated, key=margin)
    open_ = [r for r in results if r.holds is None]
    if open_:
        return max(open_, key=margin)

    def slack(r: CheckResult) -> float:
        lo, hi = r.ci
        b = abs(r.bound) or 1e-300
        return _coarse((r.bound - hi) / b if r.direction == "le" else (lo - r.bound) / b)
    return min(results, key=slack)
