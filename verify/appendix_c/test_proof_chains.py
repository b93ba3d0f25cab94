"""Appendix C chains, step by step (verify.appendix_c): each row of ``proof_chain_results`` is a
test, pinned to its record (``verify/recorded/appendix_c/test_proof_chains.json``, written by
``python -m verify.record``); a row that does not hold is a strict xfail that accepts only the
exception of its recorded verdict, and its corrected step is asserted by its own row. Every family of steps has negative controls that must fail.
"""
import math

import pytest

from verify.appendix_c import chains_c7_c24 as PV
from verify.appendix_c import lemmas_c2_c3 as PC
from verify.appendix_c import proof_chain_results
from verify.appendix_c import smoothness_c1_c5 as PS
from verify import record


def _key(r):
    i = r.instance
    return (r.claim, r.form, i["mdp"], i["line"], str(i.get("h")), str(i.get("eta")), str(i.get("delta")))


def _params():
    for r in proof_chain_results(True):
        yield pytest.param(r, id="-".join(str(x)[:40] for x in _key(r)))


@pytest.mark.parametrize("row", list(_params()))
def test_proof_chain_step(row, recorded):
    recorded(row)


@pytest.mark.parametrize("row", PC.lemma_controls() + PV.controls(True) + PS.controls(True),
                         ids=lambda r: f"{r.claim}-{r.instance['line'][:50]}")
def test_negative_control_fails(row):
    assert row.holds is False, row.describe()


def test_grad_J_agrees_three_ways():
    ex = PC.exact_gradients()
    assert abs(ex["grad"] - ex["grad_lqr"]) < 1e-12 and abs(ex["grad"] - ex["grad_fd"]) < 1e-8


@pytest.mark.parametrize("h,beta", [(1, 0.0), (3, 0.0), (0, 1.0)])
def test_monte_carlo_bias_covers_the_closed_form(h, beta):
    # the estimator code (trainers.estimators via verify.measure) against the closed form
    ex = PC.exact_gradients()
    _, lo, hi, _ = PC.mc_bias(h, beta, True)
    exact = abs(ex["grad"] - ex[f"Eg_{'nu' if beta else 'zeta'}_{h}"])
    assert lo <= exact <= hi


def test_bias_at_h0_beta1_is_gamma_times_grad():
    ex = PC.exact_gradients()
    assert math.isclose(abs(ex["grad"] - ex["Eg_nu_0"]), 0.9 * abs(ex["grad"]), rel_tol=1e-12)


def test_variance_chain_gradients_match_the_estimator():
    # g_n assembled from the pathwise derivatives equals per_sample_grads of (4.2)
    import torch

    from trainers.estimators import flatten_grads, per_sample_grads
    from verify import measure
    p = PV.problem("lqr-contracting")
    t = PV.variance_terms("lqr-contracting", 3, True)
    g = torch.Generator().manual_seed(34)
    s0 = p.sample_zeta(PV.VAR_N[True], g)
    noise = p.sample_noise(3, PV.VAR_N[True], g)
    ref = flatten_grads(per_sample_grads(p.policy, measure.value_fn(p, 3), s0, noise)).numpy()[:, 0]
    assert abs(ref - t["g"]).max() < 1e-10


def test_markdown_rows():
    rows = proof_chain_results(True)
    md = PC.proof_chain_markdown(rows)
    assert md.count("\n| ") - 1 == len(rows)
    assert all(r.to_json()["claim"] == r.claim for r in rows)


@pytest.mark.slow
def test_full_configuration(recorded):
    """Every row of the full configuration reproduces its record, and every corrected row holds."""
    full = proof_chain_results(False)
    for r in full:
        recorded.reproduce(r, record.row_key(r))
    rows = [r for r in full if r.form == "corrected"]
    assert all(r.holds is True for r in rows), [r.describe() for r in rows if r.holds is not True]
