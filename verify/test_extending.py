"""docs/extending.md, run: its example claim goes through a report section and the records.

The example is a bound the suite already derives, ‖∇J(θ)‖ ≤ S = ``bounds.bias.sup_grad_V`` (∇J is
E_ζ ∇_θV, and S bounds ‖∇_θV(s)‖ at every s), held against the exact ∇J of random certified LQRs.
"""
import json

from bounds import bias as BB
from bounds.numeric import Evaluator
from toy_mdps.lqr import LQR
from verify import instances, report
from verify.registry import Section
from verify.verdict import CheckResult, Control

CLAIM = "example.grad-norm"
S = Evaluator(BB.sup_grad_V(), "sup_grad_V")


def grad_norm_check(seed: int, scale: float = 1.0) -> CheckResult:
    """‖∇J‖ ≤ S on ``LQR.random(seed)`` in 2-D, exact on both sides; ``scale`` multiplies the bound (a control)."""
    p = LQR.random(seed, d_s=2, d_a=1, noise="uniform")
    lip = instances.lipschitz(p)
    bound = float(S(**instances.bound_params(p, L_f=lip["L_f"])).value)  # S is along the true dynamics
    g = float(p.true_grad().norm())
    instance = {"mdp": "LQR.random", "seed": seed, "d_s": 2, "d_a": 1, "gamma": p.gamma}
    return CheckResult(CLAIM, "explicit", instance, g, (g, g), scale * bound, level=1.0)


def results(quick: bool) -> list[CheckResult]:
    """The first 3 (quick) or 10 seeds whose S is finite: where γρ ≥ 1, S is +∞ and a row would hold vacuously."""
    rows = (grad_norm_check(seed) for seed in range(100))
    finite = (r for r in rows if r.bound < 1e300)
    return [next(finite) for _ in range(3 if quick else 10)]


def controls(quick: bool) -> list[Control]:
    """A structural change the bound must not survive if the check has power: S without its factor
    1/(1 − γ), on the tightest row."""
    worst = min(results(quick), key=lambda r: r.tightness)
    return [Control("S without 1/(1 − γ)", worst, grad_norm_check(worst.instance["seed"], 1 - worst.instance["gamma"]))]


def test_example_rows_hold_and_replay(recorded):
    for r in results(True):
        recorded.reproduce(r, f"seed={r.instance['seed']}")
        assert r.holds is True, r.describe()


def test_example_control_is_not_caught():
    """The bound is so loose (350–2,300×) that even S (1 − γ) holds: the check has no power here."""
    (c,) = controls(True)
    assert not c.caught and c.control.holds is True, c.to_json()


def test_example_runs_through_the_report(tmp_path, monkeypatch):
    monkeypatch.setattr(report, "ordered", lambda: [Section(CLAIM, "Example: ‖∇J‖ ≤ S", results, 1,
                                                            controls=[controls])])
    assert report.main(["--quick", "--out", str(tmp_path)]) == 0
    doc = json.loads((tmp_path / "report.json").read_text())
    assert [(r["claim"], r["holds"]) for r in doc["checks"]] == [(CLAIM, True)] * 3
    (power,) = doc["power"]
    assert (power["controls_caught"], power["controls"]) == (0, 1)
    assert "Example: ‖∇J‖ ≤ S" in (tmp_path / "report.md").read_text()
