"""Appendix C chains, step by step (verify.appendix_c): each row of ``proof_chain_results`` is a
test; a row that does not hold is a strict xfail that accepts only the exception of its recorded
verdict, after reproducing the recorded numbers (``EXPECTED``), and its corrected step is asserted
by its own row. Every family of steps has negative controls that must fail.
"""
import math

import pytest

from verify.appendix_c import chains_c7_c24 as PV
from verify.appendix_c import lemmas_c2_c3 as PC
from verify.appendix_c import proof_chain_results
from verify.appendix_c import smoothness_c1_c5 as PS
from verify.conftest import expected_failure
from verify.verdict import Recorded, expect


def _key(r):
    i = r.instance
    return (r.claim, r.form, i["mdp"], i["line"], str(i.get("h")), str(i.get("eta")), str(i.get("delta")))


#: every row that does not hold, as measured (quick configuration, fixed seeds): its verdict, measured
#: left side and bound, reproduced within Recorded.rtol; the test expects exactly its exception
EXPECTED = {
    ('lemmaC.2', 'printed', 'lqr-contracting', 'E[dV(s_h)/dθ] = E_{P(s_h,a_h)}[∂Q/∂a·da/dθ + ∂Q/∂s·ds/dθ] (total ∇_θ, σ̄_1 = P(s_h,a_h)) — relative residual', '1', 'None', 'None'):
        Recorded(False, 0.15311745488973594, 1e-09),
    ('lemmaC.2', 'printed', 'lqr-contracting', 'E[dV(s_h)/dθ] = E_{σ̄_2}[∂Q/∂a·da/dθ + ∂Q/∂s·ds/dθ] (total ∇_θ, σ̄ = tail visitation (C.25)) — relative residual', '1', 'None', 'None'):
        Recorded(False, 0.6008072924210488, 1e-09),
    ('lemmaC.2', 'printed', 'lqr-contracting', 'E[∂_θV(s_h)] = E_{P(s_h,a_h)}[∂Q/∂a·da/dθ + ∂Q/∂s·ds/dθ] (partial ∇_θ, s_h held) — relative residual', '1', 'None', 'None'):
        Recorded(False, 0.6768259532867184, 1e-09),
    ('lemmaC.2', 'printed', 'lqr-contracting', 'E[dV(s_h)/dθ] = E_{P(s_h,a_h)}[∂Q/∂a·da/dθ + ∂Q/∂s·ds/dθ] (total ∇_θ, σ̄_1 = P(s_h,a_h)) — relative residual', '3', 'None', 'None'):
        Recorded(False, 0.17911083159266117, 1e-09),
    ('lemmaC.2', 'printed', 'lqr-contracting', 'E[dV(s_h)/dθ] = E_{σ̄_2}[∂Q/∂a·da/dθ + ∂Q/∂s·ds/dθ] (total ∇_θ, σ̄ = tail visitation (C.25)) — relative residual', '3', 'None', 'None'):
        Recorded(False, 0.5785703075837367, 1e-09),
    ('lemmaC.2', 'printed', 'lqr-contracting', 'E[∂_θV(s_h)] = E_{P(s_h,a_h)}[∂Q/∂a·da/dθ + ∂Q/∂s·ds/dθ] (partial ∇_θ, s_h held) — relative residual', '3', 'None', 'None'):
        Recorded(False, 0.7160261567653501, 1e-09),
    ('lemmaC.3', 'printed', 'lqr-contracting', 'b_t ≤ Lemma C.3 right side (= 0 at ε_f = ε_v = 0, coupled)', '1', 'None', 'None'):
        Recorded(False, 0.0550063320787115, 0.0),
    ('lemmaC.3', 'printed', 'lqr-contracting', 'b_t ≤ Lemma C.3 right side (= 0 at ε_f = ε_v = 0, coupled)', '3', 'None', 'None'):
        Recorded(False, 0.024929611884864866, 0.0),
    ('lemmaC.3', 'printed', 'lqr-contracting', 'b_t ≤ Lemma C.3 right side (= 0 at ε_f = ε_v = 0, coupled)', '0', 'None', 'None'):
        Recorded(False, 0.18296172806153915, 0.0),
    ('lemmaC.3', 'printed', 'finite ring chain', 'E_ζ[φ] ≤ κ·E_ν[φ] (change of measure, φ ≥ 0)', 'None', 'None', 'None'):
        Recorded(False, 1.1, 0.7224314304701468),
    ('C.25', 'printed', 'finite ring chain', 'σ = γ^h σ̄_1 + Σ_{i<h} γ^i P_i, σ unnormalised, σ̄_1 = P(s_h, a_h) — relative residual', '1', 'None', 'None'):
        Recorded(False, 0.6694214876033056, 1e-09),
    ('C.25', 'printed', 'finite ring chain', 'σ = γ^h σ̄_1 + Σ_{i<h} γ^i P_i, σ normalised, σ̄_1 = tail visitation Σ_{i≥h} γ^{i−h} P_i — relative residual', '1', 'None', 'None'):
        Recorded(False, 9.0, 1e-09),
    ('C.25', 'printed', 'finite ring chain', 'σ = γ^h σ̄_1 + Σ_{i<h} γ^i P_i, σ normalised, σ̄_1 = P(s_h, a_h) — relative residual', '1', 'None', 'None'):
        Recorded(False, 4.050983539375728, 1e-09),
    ('C.25', 'printed', 'finite ring chain', 'σ = γ^h σ̄_1 + Σ_{i<h} γ^i P_i, σ unnormalised, σ̄_1 = P(s_h, a_h) — relative residual', '3', 'None', 'None'):
        Recorded(False, 0.5159656708899663, 1e-09),
    ('C.25', 'printed', 'finite ring chain', 'σ = γ^h σ̄_1 + Σ_{i<h} γ^i P_i, σ normalised, σ̄_1 = tail visitation Σ_{i≥h} γ^{i−h} P_i — relative residual', '3', 'None', 'None'):
        Recorded(False, 9.000000000000002, 1e-09),
    ('C.25', 'printed', 'finite ring chain', 'σ = γ^h σ̄_1 + Σ_{i<h} γ^i P_i, σ normalised, σ̄_1 = P(s_h, a_h) — relative residual', '3', 'None', 'None'):
        Recorded(False, 5.073807706099312, 1e-09),
    ('4.8', 'printed', 'lqr-contracting', 'ε_v(Q̂ = Q^π) = 0, independent reading', '1', 'None', 'None'):
        Recorded(False, 0.9682319140757172, 1e-12),
    ('C.1-projected', 'printed', 'offset-LQ toy', 'θ_{t+1} − θ_t = η ĝ_t — relative residual', 'None', '0.2785/L', '0.349999'):
        Recorded(False, 1.0, 1e-09),
    ('C.1-projected', 'printed', 'offset-LQ toy', 'J(θ_{t+1}) − J(θ_t) ≥ η ∇J·ĝ − (Lη²/2)‖ĝ‖² (second line)', 'None', '0.2785/L', '0.349999'):
        Recorded(False, 0.0, 0.06632224358087724),
    ('C.2-projected', 'printed', 'offset-LQ toy', 'J(θ_{t+1}) − J(θ_t) ≥ (η/2)(−2‖ĝ‖b_t − ‖ĝ − Eĝ‖² + ‖ĝ‖²) − (Lη²/2)‖ĝ‖²', 'None', '0.2785/L', '0.349999'):
        Recorded(False, 0.0, 0.036068204837773156),
    ('C.1-projected', 'printed', 'offset-LQ toy', 'θ_{t+1} − θ_t = η ĝ_t — relative residual', 'None', '0.5/L', '0.349999'):
        Recorded(False, 1.0, 1e-09),
    ('C.1-projected', 'printed', 'offset-LQ toy', 'J(θ_{t+1}) − J(θ_t) ≥ η ∇J·ĝ − (Lη²/2)‖ĝ‖² (second line)', 'None', '0.5/L', '0.349999'):
        Recorded(False, 0.0, 0.09576994193827512),
    ('C.2-projected', 'printed', 'offset-LQ toy', 'J(θ_{t+1}) − J(θ_t) ≥ (η/2)(−2‖ĝ‖b_t − ‖ĝ − Eĝ‖² + ‖ĝ‖²) − (Lη²/2)‖ĝ‖²', 'None', '0.5/L', '0.349999'):
        Recorded(False, 0.0, 0.04146796898816731),
    ('C.1-projected', 'printed', 'offset-LQ toy', 'θ_{t+1} − θ_t = η ĝ_t — relative residual', 'None', '0.9/L', '0.349999'):
        Recorded(False, 1.0, 1e-09),
    ('C.1-projected', 'printed', 'offset-LQ toy', 'J(θ_{t+1}) − J(θ_t) ≥ η ∇J·ĝ − (Lη²/2)‖ĝ‖² (second line)', 'None', '0.9/L', '0.349999'):
        Recorded(False, 0.0, 0.10787638572215714),
    ('C.2-projected', 'printed', 'offset-LQ toy', 'J(θ_{t+1}) − J(θ_t) ≥ (η/2)(−2‖ĝ‖b_t − ‖ĝ − Eĝ‖² + ‖ĝ‖²) − (Lη²/2)‖ĝ‖²', 'None', '0.9/L', '0.349999'):
        Recorded(False, 0.0, 0.010307193171000921),
    ('C.1-projected', 'printed', 'offset-LQ toy', 'θ_{t+1} − θ_t = η ĝ_t — relative residual', 'None', '1.5/L', '0.349999'):
        Recorded(False, 1.0, 1e-09),
    ('C.1-projected', 'printed', 'offset-LQ toy', 'J(θ_{t+1}) − J(θ_t) ≥ η ∇J·ĝ − (Lη²/2)‖ĝ‖² (second line)', 'None', '1.5/L', '0.349999'):
        Recorded(False, 0.0, 0.10785683338221103),
    ('C.5-projected', 'explicit', 'offset-LQ toy', 'min_t E‖∇J(θ_t)‖² ≤ penultimate line of proof C.1', 'None', '0.2785/L', '0.349999'):
        Recorded(False, 0.37999624695064765, 0.31523372406121075),
    ('C.5-projected', 'printed', 'offset-LQ toy', 'min_t E‖∇J(θ_t)‖² ≤ Prop 5.2 (2δ b_t)', 'None', '0.2785/L', '0.349999'):
        Recorded(False, 0.37999624695064765, 0.16034073405068652),
    ('C.5-projected', 'explicit', 'offset-LQ toy', 'min_t E‖∇J(θ_t)‖² ≤ penultimate line of proof C.1', 'None', '0.5/L', '0.349999'):
        Recorded(False, 0.37999624695064765, 0.2663181367524243),
    ('C.5-projected', 'printed', 'offset-LQ toy', 'min_t E‖∇J(θ_t)‖² ≤ Prop 5.2 (2δ b_t)', 'None', '0.5/L', '0.349999'):
        Recorded(False, 0.37999624695064765, 0.06108434995571257),
    ('C.5-projected', 'printed', 'offset-LQ toy', 'min_t E‖∇J(θ_t)‖² ≤ Prop 5.2 (2δ b_t)', 'None', '0.9/L', '0.349999'):
        Recorded(False, 0.37999624695064765, 0.16542191242492663),
    ('C.5', 'explicit', 'offset-LQ toy', 'min_t E‖∇J(θ_t)‖² ≤ penultimate line of proof C.1', 'None', '1.5/L', '1.1824'):
        Recorded(False, 0.009876335722371676, -0.1014764458253875),
    ('C.5', 'printed', 'offset-LQ toy', 'min_t E‖∇J(θ_t)‖² ≤ Prop 5.2 (2δ b_t)', 'None', '1.5/L', '1.1824'):
        Recorded(False, 0.009876335722371676, -0.03089265252328502),
    ('C.5-projected', 'explicit', 'offset-LQ toy', 'min_t E‖∇J(θ_t)‖² ≤ penultimate line of proof C.1', 'None', '1.5/L', '0.349999'):
        Recorded(False, 0.37999624695064765, -0.0826163483133973),
    ('C.5-projected', 'printed', 'offset-LQ toy', 'min_t E‖∇J(θ_t)‖² ≤ Prop 5.2 (2δ b_t)', 'None', '1.5/L', '0.349999'):
        Recorded(False, 0.37999624695064765, -0.008438503225365561),
}


def _params():
    for r in proof_chain_results(True):
        yield pytest.param(r, id="-".join(str(x)[:40] for x in _key(r)), marks=expected_failure(EXPECTED.get(_key(r))))


@pytest.mark.parametrize("row", list(_params()))
def test_proof_chain_step(row):
    expect(row, EXPECTED.get(_key(row)))


def test_every_recorded_counterexample_is_still_measured():
    assert set(EXPECTED) <= {_key(r) for r in proof_chain_results(True)}


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
def test_full_configuration_corrected_rows_hold():
    rows = [r for r in proof_chain_results(False) if r.form == "corrected"]
    assert all(r.holds is True for r in rows), [r.describe() for r in rows if r.holds is not True]
