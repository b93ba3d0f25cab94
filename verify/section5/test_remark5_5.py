"""Remark 5.5 (spectral normalisation reduces the gradient variance at large h) on the expanding
sine toy, with a learned ReLU model and tanh policy, vanilla against SN.

Verdicts were measured first (quick configuration, fixed seeds) and are encoded here; where the
remark does not hold, the test is a strict xfail that accepts only the exception of the case's
recorded verdict (violated or inconclusive), after reproducing its recorded numbers.
The controls compare the vanilla arm with a reference arm whose model is contracting (λ̂ = 0.5):
there the same checks must hold, and with the arms swapped they must be violated.
"""
import math

import pytest
import torch

from trainers.estimators import flatten_grads, per_sample_grads, per_sample_grads_loop
from verify import instances
from verify.conftest import QUICK, expected_failure
from verify.section5 import remark5_5
from verify.verdict import Recorded, expect

# Recorded per exact case (sine-expanding, L_f = 3, γ = 0.9, RP-DP, β = 0, 2500 samples per arm):
# verdict (False violated, None inconclusive), measured value and bound (``verdict.Recorded``).
# The arms are networks trained on an expanding toy, which amplifies the float differences between
# CPUs: on an AMD EPYC (2026-12-08) every verdict reproduced, the violated rows' numbers within 45 %
# (the ratio at h = 5: 0.4893 for 0.5257), the inconclusive ones (no interval) not at all. So the
# verdict is pinned exactly, a violated row's number within ``CPU_RTOL``, an inconclusive one's not.
CPU_RTOL = 0.5


def rec(holds, measured, bound) -> Recorded:
    return Recorded(holds, measured, bound, rtol=CPU_RTOL if holds is False else math.inf)


# Every row at h ≥ 8 is inconclusive: a learned arm's variance there rests on 2–36 effective samples
# (``stats.tail``), so it gets no interval. At h ≤ 5 every arm's variance rests on > 200.
# Measured ratio v[vanilla] / v[arm] ≥ 1 (99 % paired BCa): at h = 5, SN raises the variance.
RATIO = {
    ('sn', 5): rec(False, 0.525689, 1.0),
    ('sn', 10): rec(None, 0.213017, 1.0),
    ('sn', 15): rec(None, 0.214067, 1.0),
    ('sn-model', 5): rec(False, 0.831579, 1.0),
    ('sn-model', 10): rec(None, 1.42035, 1.0),
    ('sn-model', 15): rec(None, 1.89432, 1.0),
    ('sn-policy', 5): rec(False, 0.634960, 1.0),
    ('sn-policy', 10): rec(None, 0.726157, 1.0),
    ('sn-policy', 15): rec(None, 0.364220, 1.0),
}
MODERATE, LARGE = remark5_5.QUICK.windows


def _name(window) -> str:
    return "moderate" if window == MODERATE else "large"


# Measured rate[vanilla] − rate[arm] ≥ 0: over h = 1…5 SN on both or on the model alone raises the
# growth rate; SN on the policy alone lowers it (holds: 0.0112 [0.0031, 0.0183]).
RATE = {
    ('sn', MODERATE): rec(False, -0.0436208, 0.0),
    ('sn-model', MODERATE): rec(False, -0.0534723, 0.0),
    ('sn-policy', MODERATE): None,
    ('sn', LARGE): rec(None, -0.162957, 0.0),
    ('sn-model', LARGE): rec(None, 0.0599505, 0.0),
    ('sn-policy', LARGE): rec(None, -0.111744, 0.0),
}
# The remark's literal "avoid exponentially increasing gradient variance", per arm.
FLAT = {
    ('sn', MODERATE): rec(False, 1.23119, 0.02),
    ('sn-model', MODERATE): rec(False, 1.24104, 0.02),
    ('sn-policy', MODERATE): rec(False, 1.17639, 0.02),
    ('sn', LARGE): rec(None, 0.806235, 0.02),
    ('sn-model', LARGE): rec(None, 0.583328, 0.02),
    ('sn-policy', LARGE): rec(None, 0.755023, 0.02),
}


@pytest.mark.parametrize("arm,h", [pytest.param(a, h, marks=expected_failure(RATIO.get((a, h))))
                                   for a, h in RATIO])
def test_sn_reduces_variance(arm, h):
    """Remark 5.5: v[vanilla](h) / v[arm](h) ≥ 1 with confidence at h = 5, 10 and 15."""
    expect(remark5_5.ratio_check("vanilla", arm, h, QUICK), RATIO.get((arm, h)))


@pytest.mark.parametrize("arm,window", [pytest.param(a, w, marks=expected_failure(RATE[a, w]), id=f"{a}-{_name(w)}")
                                        for a, w in RATE])
def test_sn_lowers_growth_rate(arm, window):
    """Remark 5.5: the growth rate of log v in h is lower with SN."""
    expect(remark5_5.rate_check("vanilla", arm, window, QUICK), RATE[arm, window])


@pytest.mark.parametrize("arm,window", [pytest.param(a, w, marks=expected_failure(FLAT[a, w]), id=f"{a}-{_name(w)}")
                                        for a, w in FLAT])
def test_sn_variance_not_exponential(arm, window):
    expect(remark5_5.flat_check(arm, window, QUICK), FLAT[arm, window])


def test_vanilla_variance_exponential():
    """The setting is the one the remark is about: without SN, log v grows faster than FLAT (h = 1…5)."""
    r = remark5_5.flat_check("vanilla", MODERATE, QUICK)
    assert r.holds is False, r.describe()


def test_large_h_rows_open_on_heavy_tails():
    """At h ≥ 8 the vanilla arm's variance rests on a handful of samples: no interval, no verdict."""
    r = remark5_5.flat_check("vanilla", LARGE, QUICK)
    assert r.holds is None and r.ci == (-math.inf, math.inf) and "heavy tail" in r.note, r.describe()


@pytest.mark.parametrize("h", remark5_5.RATIO_H)
def test_ratio_control_contracting_reference(h):
    """Control: a reduction that exists (the contracting reference model) is detected where the
    vanilla variance has an interval (h = 5), and with the arms swapped the same check is violated;
    at h = 10, 15 the vanilla arm's heavy tail leaves both open."""
    r = remark5_5.ratio_check("vanilla", "contracting", h, QUICK)
    swapped = remark5_5.ratio_check("contracting", "vanilla", h, QUICK)
    want = (True, False) if h == 5 else (None, None)
    assert (r.holds, swapped.holds) == want, (r.describe(), swapped.describe())


def test_rate_control_contracting_reference():
    r = remark5_5.rate_check("vanilla", "contracting", MODERATE, QUICK)
    swapped = remark5_5.rate_check("contracting", "vanilla", MODERATE, QUICK)
    assert r.holds is True and swapped.holds is False, (r.describe(), swapped.describe())


@pytest.mark.parametrize("window", [MODERATE, LARGE], ids=_name)
def test_flat_control_contracting_reference(window):
    """Control of ``flat_check``: it passes where the variance does not grow (contracting model)."""
    r = remark5_5.flat_check("contracting", window, QUICK)
    assert r.holds is True, r.describe()


def test_structural_controls():
    """The registered controls: on the reference pair, 3 of 4 changes caught (the ratio at h = 5, the
    rate and the flat check over h = 1…5); the flat check over h ≥ 8 is missed, its lifted form (the
    vanilla arm) being open on its heavy tail. The one own row that holds (rate, SN policy, h = 1…5)
    is violated with the arms swapped."""
    cs = remark5_5.structural_controls(QUICK)
    assert [(c.claim, c.change, c.caught) for c in cs] == [
        ("remark5.5", remark5_5.SWAPPED, True), ("remark5.5.rate", remark5_5.SWAPPED, True),
        ("remark5.5.not-exponential", remark5_5.LIFTED, True), ("remark5.5.not-exponential", remark5_5.LIFTED, False),
        ("remark5.5.rate", remark5_5.SWAPPED_SN, True)], [c.to_json() for c in cs]


def test_spectral_norm_realised():
    """SN layers have effective spectral norm ≈ 1, so the SN policy is ≈ 1-Lipschitz and the SN
    model's constant is about its last layer's; both fit the data. Measured: the model's second
    layer sits at 1.031 (one power-iteration step per update leaves σ(W) slightly underestimated),
    the others at 1.000."""
    for module in (remark5_5.model("sn")[0], remark5_5.policy(True)[0]):
        for m in module.modules():
            if isinstance(m, torch.nn.Linear) and torch.nn.utils.parametrize.is_parametrized(m):
                assert abs(torch.linalg.matrix_norm(m.weight.detach(), 2).item() - 1) < 0.05
    van, sn = remark5_5.realised("vanilla"), remark5_5.realised("sn")
    assert sn["L_policy"] < 1.001 < van["L_policy"] and sn["L_model"] < van["L_model"], (van, sn)
    noise_var = instances.toy(remark5_5.INST).true_model.c ** 2
    assert van["mse_model"] < 1.5 * noise_var and sn["mse_model"] < 1.5 * noise_var, (van, sn)


def test_sn_per_sample_grads_match_loop():
    """The vmap per-sample gradients of an SN policy are those of autograd, one sample at a time
    (the derivative is taken with respect to the raw weight, through the normalisation)."""
    p = instances.toy(remark5_5.INST)
    g = torch.Generator().manual_seed(0)
    s0, noise = p.sample_zeta(4, g), p.sample_noise(3, 4, g)
    pol, fn = remark5_5.pair("sn")[1], remark5_5.value_fn("sn", 3)
    fast = flatten_grads(per_sample_grads(pol, fn, s0, noise))
    loop = flatten_grads(per_sample_grads_loop(pol, fn, s0, noise))
    assert torch.allclose(fast, loop, rtol=1e-8, atol=1e-10)


# The full configuration (h = 0…15, 6000 samples per arm), recorded like the quick one (raw verdicts of
# the check functions, before Holm). Every verdict is the quick run's: at h = 5 each SN arm raises the
# variance (v[vanilla] / v[sn] = 0.517 [0.470, 0.572]), over h = 1…5 SN on the policy alone lowers the
# growth rate (0.0120 [0.0082, 0.0160]) and the other arms raise it, every arm grows far faster than
# FLAT, and every row at h ≥ 8 is open on a heavy tail (the vanilla arm's largest sample 8–10 % of v̂).
FULL_MODERATE, FULL_LARGE = remark5_5.FULL.windows
FULL_RATIO = {
    ('sn', 5): rec(False, 0.516892, 1.0),
    ('sn', 10): rec(None, 0.480190, 1.0),
    ('sn', 15): rec(None, 0.0107629, 1.0),
    ('sn-model', 5): rec(False, 0.820994, 1.0),
    ('sn-model', 10): rec(None, 1.12898, 1.0),
    ('sn-model', 15): rec(None, 0.805104, 1.0),
    ('sn-policy', 5): rec(False, 0.636238, 1.0),
    ('sn-policy', 10): rec(None, 0.512921, 1.0),
    ('sn-policy', 15): rec(None, 0.427217, 1.0),
}
FULL_RATE = {
    ('sn', FULL_MODERATE): rec(False, -0.0516421, 0.0),
    ('sn-model', FULL_MODERATE): rec(False, -0.0607040, 0.0),
    ('sn-policy', FULL_MODERATE): None,
    ('sn', FULL_LARGE): rec(None, -0.289200, 0.0),
    ('sn-model', FULL_LARGE): rec(None, 0.0254396, 0.0),
    ('sn-policy', FULL_LARGE): rec(None, -0.0790552, 0.0),
}
FULL_FLAT = {
    ('vanilla', FULL_MODERATE): rec(False, 1.20812, 0.02),
    ('sn', FULL_MODERATE): rec(False, 1.25976, 0.02),
    ('sn-model', FULL_MODERATE): rec(False, 1.26883, 0.02),
    ('sn-policy', FULL_MODERATE): rec(False, 1.19607, 0.02),
    ('vanilla', FULL_LARGE): rec(None, 0.758842, 0.02),
    ('sn', FULL_LARGE): rec(None, 1.04804, 0.02),
    ('sn-model', FULL_LARGE): rec(None, 0.733403, 0.02),
    ('sn-policy', FULL_LARGE): rec(None, 0.837898, 0.02),
}


def _full_check(rec: Recorded | None, r) -> None:
    if rec is None:
        assert r.holds is True, r.describe()
    else:
        rec.check(r)


@pytest.mark.slow
def test_full_configuration():
    """The full sweep reproduces its recorded verdicts and numbers (``FULL_*``), covers every row of
    ``remark5_5.checks``, and its structural controls are those of the quick run (4 of 5 caught)."""
    rows = remark5_5.checks(False)
    assert len(rows) == len(FULL_RATIO) + len(FULL_RATE) + len(FULL_FLAT)
    for (arm, h), rec in FULL_RATIO.items():
        _full_check(rec, remark5_5.ratio_check("vanilla", arm, h, False))
    for (arm, w), rec in FULL_RATE.items():
        _full_check(rec, remark5_5.rate_check("vanilla", arm, w, False))
    for (arm, w), rec in FULL_FLAT.items():
        _full_check(rec, remark5_5.flat_check(arm, w, False))
    cs = remark5_5.structural_controls(False)
    assert [c.caught for c in cs] == [True, True, True, False, True], [c.to_json() for c in cs]
