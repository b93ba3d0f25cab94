"""Remark 5.5 (spectral normalisation reduces the gradient variance at large h) on the expanding
sine toy, with a learned ReLU model and tanh policy, vanilla against SN.

Verdicts were measured first (quick configuration, fixed seeds) and are encoded here; where the
remark does not hold, the test is a strict xfail that accepts only the exception of the case's
recorded verdict (violated or inconclusive), after reproducing its recorded numbers.
The controls compare the vanilla arm with a reference arm whose model is contracting (λ̂ = 0.5):
there the same checks must hold, and with the arms swapped they must be violated.
"""
import pytest
import torch

from trainers.estimators import flatten_grads, per_sample_grads, per_sample_grads_loop
from verify import instances
from verify.conftest import QUICK, expected_failure
from verify.section5 import remark5_5
from verify.verdict import Recorded, expect

# Recorded per exact case (sine-expanding, L_f = 3, γ = 0.9, RP-DP, β = 0, 2500 samples per arm):
# verdict (False violated, None inconclusive), measured value and bound (``verdict.Recorded``).
# Measured ratio v[vanilla] / v[arm] ≥ 1 (99% paired bootstrap CI): SN does not reduce the variance.
RATIO = {
    ('sn', 10): Recorded(False, 0.21301713196388503, 1.0),
    ('sn', 15): Recorded(None, 0.21406700091282435, 1.0),
    ('sn-model', 10): Recorded(None, 1.4203495085257873, 1.0),
    ('sn-model', 15): Recorded(None, 1.8943172875876966, 1.0),
    ('sn-policy', 10): Recorded(None, 0.7261566118358876, 1.0),
    ('sn-policy', 15): Recorded(None, 0.3642199139022788, 1.0),
}
# Measured rate[vanilla] − rate[arm] ≥ 0 over h ∈ {8, 10, 12, 15}: SN does not lower the growth rate.
RATE = {
    'sn': Recorded(None, -0.16295709317328766, 0.0),
    'sn-model': Recorded(None, 0.05995054477201345, 0.0),
    'sn-policy': Recorded(None, -0.11174445141319533, 0.0),
}
# The remark's literal "avoid exponentially increasing gradient variance", per arm.
FLAT = {
    'sn': Recorded(False, 0.8062352678455819, 0.02),
    'sn-model': Recorded(False, 0.5833276299002808, 0.02),
    'sn-policy': Recorded(False, 0.7550226260854895, 0.02),
}


@pytest.mark.parametrize("arm,h", [pytest.param(a, h, marks=expected_failure(RATIO.get((a, h))))
                                   for a, h in RATIO])
def test_sn_reduces_variance_at_large_h(arm, h):
    """Remark 5.5: v[vanilla](h) / v[arm](h) ≥ 1 with confidence at h = 10 and 15."""
    expect(remark5_5.ratio_check("vanilla", arm, h, QUICK), RATIO.get((arm, h)))


@pytest.mark.parametrize("arm", [pytest.param(a, marks=expected_failure(RATE.get(a))) for a in RATE])
def test_sn_lowers_growth_rate(arm):
    """Remark 5.5: the growth rate of log v in h is lower with SN."""
    expect(remark5_5.rate_check("vanilla", arm, QUICK), RATE.get(arm))


@pytest.mark.parametrize("arm", [pytest.param(a, marks=expected_failure(FLAT.get(a))) for a in FLAT])
def test_sn_variance_not_exponential(arm):
    expect(remark5_5.flat_check(arm, QUICK), FLAT.get(arm))


def test_vanilla_variance_exponential():
    """The setting is the one the remark is about: without SN, log v grows faster than FLAT."""
    r = remark5_5.flat_check("vanilla", QUICK)
    assert r.holds is False, r.describe()


@pytest.mark.parametrize("h", remark5_5.LARGE_H)
def test_ratio_control_contracting_reference(h):
    """Control: a reduction that exists (the contracting reference model) is detected, and with
    the arms swapped the same check is violated."""
    r = remark5_5.ratio_check("vanilla", "contracting", h, QUICK)
    swapped = remark5_5.ratio_check("contracting", "vanilla", h, QUICK)
    assert r.holds is True and swapped.holds is False, (r.describe(), swapped.describe())


def test_rate_control_contracting_reference():
    r = remark5_5.rate_check("vanilla", "contracting", QUICK)
    swapped = remark5_5.rate_check("contracting", "vanilla", QUICK)
    assert r.holds is True and swapped.holds is False, (r.describe(), swapped.describe())


def test_flat_control_contracting_reference():
    """Control of ``flat_check``: it passes where the variance does not grow (contracting model)."""
    r = remark5_5.flat_check("contracting", QUICK)
    assert r.holds is True, r.describe()


def test_structural_controls():
    """The registered controls: on the reference pair every check holds and each change (arms swapped,
    constraint lifted) is caught, 4 of 4, for the ratio (h = 10, 15), the rate and the flat check."""
    cs = remark5_5.structural_controls(QUICK)
    assert [(c.claim, c.change, c.caught) for c in cs] == [
        ("remark5.5", remark5_5.SWAPPED, True), ("remark5.5", remark5_5.SWAPPED, True),
        ("remark5.5.rate", remark5_5.SWAPPED, True), ("remark5.5.not-exponential", remark5_5.LIFTED, True)], \
        [c.to_json() for c in cs]


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
# the check functions, before Holm). Its conclusions are the quick run's: no row of the remark holds, every
# arm's log-variance grows far faster than FLAT, the controls on the reference pair are caught. Per case it
# agrees with the quick verdicts except sn-policy, violated at h = 10 and 15 (quick: inconclusive).
FULL_RATIO = {
    ('sn', 10): Recorded(False, 0.480190, 1.0),
    ('sn', 15): Recorded(None, 0.0107629, 1.0),
    ('sn-model', 10): Recorded(None, 1.12898, 1.0),
    ('sn-model', 15): Recorded(None, 0.805104, 1.0),
    ('sn-policy', 10): Recorded(False, 0.512921, 1.0),
    ('sn-policy', 15): Recorded(False, 0.427217, 1.0),
}
FULL_RATE = {
    'sn': Recorded(None, -0.289200, 0.0),
    'sn-model': Recorded(None, 0.0254396, 0.0),
    'sn-policy': Recorded(None, -0.0790552, 0.0),
}
FULL_FLAT = {
    'vanilla': Recorded(False, 0.758842, 0.02),
    'sn': Recorded(False, 1.04804, 0.02),
    'sn-model': Recorded(False, 0.733403, 0.02),
    'sn-policy': Recorded(False, 0.837898, 0.02),
}


@pytest.mark.slow
def test_full_configuration():
    """The full sweep reproduces its recorded verdicts and numbers (``FULL_*``; v[vanilla] / v[sn] = 0.480,
    99 % CI [0.229, 0.982], at h = 10 and 0.0108 [0.0023, 1.06] at h = 15; SN slope of log v 1.048), covers
    every row of ``remark5_5.checks``, and its structural controls are all caught (4 of 4)."""
    rows = remark5_5.checks(False)
    assert len(rows) == len(FULL_RATIO) + len(FULL_RATE) + len(FULL_FLAT)
    for (arm, h), rec in FULL_RATIO.items():
        rec.check(remark5_5.ratio_check("vanilla", arm, h, False))
    for arm, rec in FULL_RATE.items():
        rec.check(remark5_5.rate_check("vanilla", arm, False))
    for arm, rec in FULL_FLAT.items():
        rec.check(remark5_5.flat_check(arm, False))
    assert not any(r.holds for r in rows), [r.describe() for r in rows if r.holds]
    cs = remark5_5.structural_controls(False)
    assert len(cs) == 4 and all(c.caught for c in cs), [c.to_json() for c in cs]
