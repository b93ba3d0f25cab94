"""verify.search: the adversary finds the known counterexamples within small budgets, its shrunk
counterexamples re-verify, and its CLI answers as documented (large budgets behind ``slow``)."""
import json
import math

import pytest

from verify import search as S

STEP_CE = {"family": "linear-offset", "d_s": 1, "d_a": 1, "A": [[0.07]], "B": [[0.99]], "K": [[0.99]],
           "c": 0.0, "sigma": 0.0, "i": 2}
LQR_EXACT = {"family": "lqr-uniform", "d_s": 1, "d_a": 1, "A": [[0.8]], "B": [[0.5]], "K": [[-0.3]],
             "A_hat": [[0.8]], "B_hat": [[0.5]], "dH": [[0.0, 0.0], [0.0, 0.0]], "sigma": 0.1,
             "noise_factor": [[0.05]], "init_factor": [[0.5]], "gamma": 0.9, "h": 3, "beta": 0.5, "estimator": "dp"}


def test_known_c10_counterexample_is_violated_and_corrected_form_holds():
    """Erratum E1's instance (the slow grid's find): (C.10) as printed fails at i = 2."""
    assert S.check_instance("C.10", "c10", STEP_CE).row.holds is False
    assert S.check_instance("C.10", "c10_corrected", STEP_CE).row.holds is True


def test_search_refutes_printed_c10_and_its_counterexample_reverifies():
    res = S.search("C.10", "printed", budget=300, seed=0)
    assert res.verdict is False and res.best.ratio >= 1 and res.evaluations >= 300
    inst = {k: v for k, v in res.best.row.instance.items() if k != "bound"}
    again = S.check_instance("C.10", "c10", json.loads(json.dumps(inst)))
    assert again.row.holds is False and again.ratio == pytest.approx(res.best.ratio)


def test_search_refutes_printed_c10_with_sub1_constants():
    """E1: (C.10) fails even with L_f, L_π < 1 (the grid's A = 0.07, B = 0.99, K = 0.99 at i = 2)."""
    res = S.search("C.10", "printed", budget=400, seed=0, sub1=True)
    assert res.verdict is False and res.best.hypotheses["L_f < 1"] and res.best.hypotheses["L_pi < 1"]


def test_default_search_refutes_printed_c12_in_the_sub1_shell():
    """Without --sub1 the second start searches L_f, L_π → 1, where (C.12) as printed fails (E1)."""
    res = S.search("C.12", "printed", budget=600, seed=0)
    assert res.verdict is False and res.best.hypotheses["L_f < 1"] and res.best.hypotheses["L_pi < 1"]


def test_search_does_not_refute_corrected_c12():
    res = S.search("C.12", "corrected", budget=300, seed=0)
    assert res.verdict is True and res.raw_ratio <= 1
    row = S.report_row(res)
    assert row.claim == "C.12.search" and row.holds is True and "reproduce: python -m verify.search" in row.note


def test_search_refutes_printed_bias_bound_on_lqr():
    """(5.3) as printed is 0 at h = 0 (and at ε_f = ε_v = 0): found within a tiny budget."""
    res = S.search("prop5.8", "printed", budget=40, seed=0, verify_mc=False)
    assert res.verdict is False and res.best.hypotheses["certified domain (A.2 constants valid)"]


def test_printed_bias_bound_vanishes_without_errors():
    ev = S.check_instance("prop5.8", "bias_printed", LQR_EXACT)
    assert ev.row.bound == 0 and ev.row.measured > 0 and ev.row.holds is False and math.isinf(ev.ratio)


def test_cli_json_and_bad_input(capsys):
    assert S.main(["C.13", "--form", "corrected", "--budget", "200", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert {"claim", "form", "ratio", "instance", "verdict", "seed", "evaluations"} <= set(out)
    assert out["claim"] == "C.13" and out["verdict"] in (True, False, None)
    for bad in (["nope"], ["C.12", "--form", "explicit"], ["C.10", "--budget", "x"], ["C.10", "--budget", "3"],
                ["C.10", "--instance", "{\"A\": 1}"], ["prop5.4", "--bound", "c10"]):
        assert S.main(bad) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("error:") and "\n" not in err


@pytest.mark.slow
@pytest.mark.parametrize("claim,form,bound,h_min,sub1", S.REPORT_RUNS)
def test_full_budget_search(claim, form, bound, h_min, sub1):
    """Every target at the report's budget: a result, with its counterexample re-verified."""
    res = S.search(claim, form, bound, S.FULL_BUDGET, seed=0, h_min=h_min, sub1=sub1)
    assert res.evaluations >= S.FULL_BUDGET * 0.9
    if res.verdict is False and res.mc is not None:
        assert res.mc["verdict"] is False
