"""Three-valued verdicts and the record every check produces.

A check compares a measured quantity, known only up to a confidence interval [low, high], with a
bound. It *holds* when the upper confidence limit is below the bound, is *violated* when the lower
limit is above it, and is *inconclusive* otherwise. ``report.json`` stores these as ``holds`` =
true, false or null; nothing rounds inconclusive to holds.

For claims of the form "measured >= bound" (a rate that must be positive, a lower bound) pass
``direction="ge"``: then holds means low > bound and violated means high < bound.

A test asserts a check with ``require(r)``, which raises ``Violated`` or ``Inconclusive`` (their own
``AssertionError`` subclasses), so that an expected failure names the verdict it expects
(``pytest.mark.xfail(raises=Violated)``) and any other exception fails the suite. ``verify.record``
pins each row's verdict and numbers.
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from enum import Enum
from typing import Any, Optional

#: the forms a check can take; "identity" marks a row that cannot fail (an algebraic truth checked
#: numerically), counted apart from the measurements
FORMS = ("printed", "explicit", "corrected", "identity")
#: the kind of statement a row tests, which decides what refutes it (``CheckResult``):
#: "explicit" (every constant stated), "O" (a hidden constant), "identity", "qualitative" (an ordering,
#: a sign, a monotonicity)
KINDS = ("explicit", "O", "identity", "qualitative")
#: what an O-form row measures: its "level" (measured against the bound with the hidden constant read
#: as 1) or the "growth" of measured/f (a slope of log(measured/f), refuting every constant when > 0)
STATISTICS = ("level", "growth")
#: an O-form bound at most this is a zero of f: the rounding of the closed forms (an unbiased case
#: comes out of them as b ≈ 6e-17), which exact rows add to their bound
ZERO_BOUND = 1e-12


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
    "explicit", "corrected" or "identity" (cannot fail: not a measurement), ``instance`` describes the MDP and parameters, ``measured`` is the
    point estimate, ``ci`` its confidence interval at ``level``, ``bound`` the bound's value and
    ``tightness`` = bound / measured (how loose the bound is; inf where measured is 0).

    ``kind`` (``KINDS``; default "identity" for that form, else "explicit") decides the verdict. An
    explicit row holds, is violated or is inconclusive by its interval against the bound. An O-form
    "level" row compares the measurement with the bound at hidden constant 1, which no constant can
    refute unless the bound is 0 there (≤ ``ZERO_BOUND``: a *boundary defect*): it is violated only then, and otherwise
    holds ("not refuted") with ``constant_needed`` = the interval's upper end over the bound, the
    smallest constant this row requires (inconclusive where that end is infinite). An O-form "growth" row is a slope of log(measured/f) against
    0 and takes the interval verdict: a positive slope inside the hypotheses refutes every constant.
    ``holds_fwer`` is the family-wise verdict (``stats.holm``); ``holds`` is always the row's own.
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
    kind: str = ""
    statistic: str = "level"
    holds: Optional[bool] = field(init=False)
    holds_fwer: Optional[bool] = field(init=False)
    tightness: float = field(init=False)
    constant_needed: Optional[float] = field(init=False)

    def __post_init__(self):
        if self.form not in FORMS:
            raise ValueError(f"form must be one of {FORMS}, got {self.form!r}")
        self.kind = self.kind or ("identity" if self.form == "identity" else "explicit")
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {self.kind!r}")
        if self.statistic not in STATISTICS:
            raise ValueError(f"statistic must be one of {STATISTICS}, got {self.statistic!r}")
        self.ci = (float(self.ci[0]), float(self.ci[1]))
        self.holds = verdict(self.ci[0], self.ci[1], self.bound, self.direction).value
        self.constant_needed = None
        if self.kind == "O" and self.statistic == "level" and self.direction == "le":
            zero = self.bound <= ZERO_BOUND
            self.constant_needed = math.inf if zero and self.holds is False else self.ci[1] / max(self.bound, 1e-300)
            if not zero:  # some constant ≥ constant_needed works (none is known without an upper limit)
                self.holds = True if math.isfinite(self.ci[1]) else None
        self.holds_fwer = self.holds
        self.tightness = self.bound / self.measured if self.measured else math.inf

    @property
    def boundary_defect(self) -> bool:
        """An O-form level row whose bound is 0 where the measurement is positive: no constant works."""
        return self.kind == "O" and self.statistic == "level" and self.holds is False

    @property
    def verdict(self) -> Verdict:
        return Verdict(self.holds)

    def describe(self) -> str:
        """One line for an xfail reason or a log: instance, measurement with CI, bound."""
        word = {True: "holds", False: "VIOLATED", None: "inconclusive"}[self.holds]
        if self.constant_needed is not None and self.holds is not None:
            word = ("VIOLATED for every constant (boundary defect)" if self.holds is False else
                    f"not refuted (O-form; constant needed {self.constant_needed:.4g})")
        rel = "<=" if self.direction == "le" else ">="
        return (f"{self.claim} [{self.form}] {word}: measured {self.measured:.4g} "
                f"({self.level:.0%} CI [{self.ci[0]:.4g}, {self.ci[1]:.4g}]) {rel} bound {self.bound:.4g} "
                f"on {json.dumps(self.instance, sort_keys=True, default=str)}"
                + (f"; {self.note}" if self.note else ""))

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["ci"] = list(self.ci)
        return {k: (_finite_or_str(v) if isinstance(v, float) else v) for k, v in d.items()}


class Violated(AssertionError):
    """A check whose interval lies on the wrong side of its bound."""


class Inconclusive(AssertionError):
    """A check whose interval straddles its bound."""


#: the exception ``require`` raises for each non-holding verdict
RAISES = {False: Violated, None: Inconclusive}


def require(r: CheckResult) -> None:
    """Assert that ``r`` holds; raise ``Violated`` or ``Inconclusive`` with ``r.describe()`` if not."""
    if r.holds is not True:
        raise RAISES[r.holds](r.describe())


@dataclass
class Control:
    """A structural negative control: the check ``real`` redone with the bound changed the way one
    careless derivation would change it (``change``). Caught: the real bound holds and the changed
    one is violated on the same measurement."""

    change: str
    real: CheckResult
    control: CheckResult

    @property
    def claim(self) -> str:
        return self.real.claim

    @property
    def form(self) -> str:
        return self.real.form

    @property
    def caught(self) -> bool:
        return self.real.holds is True and self.control.holds is False

    def to_json(self) -> dict[str, Any]:
        return {"claim": self.claim, "form": self.form, "change": self.change, "caught": self.caught,
                "real_holds": self.real.holds, "control_holds": self.control.holds,
                "measured": _finite_or_str(float(self.real.measured)),
                "bound": _finite_or_str(float(self.real.bound)),
                "control_bound": _finite_or_str(float(self.control.bound)), "instance": self.real.instance}


def _finite_or_str(x: float):
    # JSON has no inf/nan; keep them readable instead of failing the dump.
    return x if math.isfinite(x) else str(x)
