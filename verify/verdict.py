"""Three-valued verdicts and the record every check produces.

A check compares a measured quantity, known only up to a confidence interval [low, high], with a
bound. It *holds* when the upper confidence limit is below the bound, is *violated* when the lower
limit is above it, and is *inconclusive* otherwise. ``report.json`` stores these as ``holds`` =
true, false or null; nothing rounds inconclusive to holds.

For claims of the form "measured >= bound" (a rate that must be positive, a lower bound) pass
``direction="ge"``: then holds means low > bound and violated means high < bound.
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from enum import Enum
from typing import Any, Optional


class Verdict(Enum):
    HOLDS = True
    VIOLATED = False
    INCONCLUSIVE = None


def verdict(low: float, high: float, bound: float, direction: str = "le") -> Verdict:
    """The three-valued verdict of "measured <= bound" (``le``) or "measured >= bound" (``ge``)."""
    if not low <= high:
        raise ValueError(f"confidence interval must satisfy low <= high, got [{low}, {high}]")
    if math.isnan(bound):
        raise ValueError("bound is nan")
    if direction == "le":
        if high < bound:
            return Verdict.HOLDS
        if low > bound:
            return Verdict.VIOLATED
    elif direction == "ge":
        if low > bound:
            return Verdict.HOLDS
        if high < bound:
            return Verdict.VIOLATED
    else:
        raise ValueError(f"direction must be 'le' or 'ge', got {direction!r}")
    return Verdict.INCONCLUSIVE


@dataclass
class CheckResult:
    """One row of report.json: a claim in one form on one instance.

    ``claim`` names the statement ("prop5.4", "C.12", "lemmaC.1", ...), ``form`` is "printed",
    "explicit" or "corrected", ``instance`` describes the MDP and parameters, ``measured`` is the
    point estimate, ``ci`` its confidence interval at ``level``, ``bound`` the bound's value and
    ``tightness`` = bound / measured (how loose the bound is; inf where measured is 0).
    """

    claim: str
    form: str
    instance: dict[str, Any]
    measured: float
    ci: tuple[float, float]
    bound: float
    direction: str = "le"
    level: float = 0.99
    note: str = ""
    holds: Optional[bool] = field(init=False)
    tightness: float = field(init=False)

    def __post_init__(self):
        if self.form not in ("printed", "explicit", "corrected"):
            raise ValueError(f"form must be printed, explicit or corrected, got {self.form!r}")
        self.ci = (float(self.ci[0]), float(self.ci[1]))
        self.holds = verdict(self.ci[0], self.ci[1], self.bound, self.direction).value
        self.tightness = self.bound / self.measured if self.measured else math.inf

    @property
    def verdict(self) -> Verdict:
        return Verdict(self.holds)

    def describe(self) -> str:
        """One line for an xfail reason or a log: instance, measurement with CI, bound."""
        word = {True: "holds", False: "VIOLATED", None: "inconclusive"}[self.holds]
        rel = "<=" if self.direction == "le" else ">="
        return (f"{self.claim} [{self.form}] {word}: measured {self.measured:.4g} "
                f"({self.level:.0%} CI [{self.ci[0]:.4g}, {self.ci[1]:.4g}]) {rel} bound {self.bound:.4g} "
                f"on {json.dumps(self.instance, sort_keys=True, default=str)}"
                + (f"; {self.note}" if self.note else ""))

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["ci"] = list(self.ci)
        return {k: (_finite_or_str(v) if isinstance(v, float) else v) for k, v in d.items()}


def _finite_or_str(x: float):
    # JSON has no inf/nan; keep them readable instead of failing the dump.
    return x if math.isfinite(x) else str(x)
