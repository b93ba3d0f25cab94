"""The measurement module: determinism, coverage of its bounds on synthetic data with known truth,
v(N) = v(1)/N, and the bias of BPTT from ζ being consistent with zero on LQR."""
import math

import torch

from toy_mdps.lqr import LQR
from verify.measure import bias_bound, measure, variance_bound

torch.set_num_threads(1)  # tiny float64 ops; threads only contend on a shared 2-core machine


def synthetic(seed, m=2000, p=3):
    g = torch.Generator().manual_seed(seed)
    scale = torch.linspace(0.5, 2.0, p, dtype=torch.float64)
    mean = torch.linspace(-1, 1, p, dtype=torch.float64)
    # centred exponentials: skewed, so the normal approximations are actually exercised
    x = (torch.empty(m, p, dtype=torch.float64).exponential_(generator=g) - 1) * scale + mean
    return x, mean, float(scale.pow(2).sum())


def test_bounds_cover_known_truth_on_most_seeds():
    covered_v = covered_b = 0
    for seed in range(20):
        x, mean, v = synthetic(seed)
        vb = variance_bound(x, level=0.95, seed=seed)
        covered_v += vb.lower <= v <= vb.upper
        target = mean + torch.tensor([0.05, 0, 0], dtype=torch.float64)
        bb = bias_bound(x, target, level=0.95)
        covered_b += bb.lower <= 0.05 <= bb.upper
    # two-sided 95% (BCa) and ≥ 95% (Bonferroni box); the coverage test proper is verify/test_stats.py (slow)
    assert covered_v >= 17 and covered_b >= 18


def test_variance_bound_gives_no_interval_on_a_heavy_tail():
    """One sample carrying a fifth of the estimate: no interval, the verdict stays open."""
    x, _, _ = synthetic(0)
    x[0] = 60.0
    vb = variance_bound(x, level=0.99)
    assert vb.lower == 0.0 and vb.upper == math.inf and "heavy tail" in vb.method


def test_measure_is_deterministic_and_scales_with_batch():
    p = LQR.random(0)
    a = measure(p, 3, 0.5, batch_size=1, n_samples=2000, seed=7)
    b = measure(p, 3, 0.5, batch_size=16, n_samples=2000, seed=7)
    assert torch.equal(a.mean, b.mean) and a.bias == b.bias
    assert math.isclose(b.variance.estimate, a.variance.estimate / 16)
    assert b.variance.lower <= b.variance.estimate <= b.variance.upper
    assert a.errors["eps_f"] == 0.0 and a.errors["eps_v_coupled"] == 0.0
    assert a.errors["eps_v_independent"] > 0 and a.errors["kappa_upper"] == 1 / math.sqrt(1 - p.gamma)


def test_bptt_from_zeta_is_unbiased_and_dr_matches_dp_with_exact_model():
    p = LQR.random(1)
    dp = measure(p, math.inf, 0.0, batch_size=1, n_samples=3000, horizon_inf=100)
    dr = measure(p, math.inf, 0.0, batch_size=1, n_samples=3000, horizon_inf=100, estimator="dr")
    assert dp.bias.lower == 0.0 and dp.bias.upper < p.true_grad().norm()
    assert torch.allclose(dp.mean, dr.mean, rtol=1e-9)


def test_kappa_reported_for_gaussian_noise():
    p = LQR.random(0, noise="gaussian", certify=False)
    m = measure(p, 1, 1.0, batch_size=1, n_samples=500)
    assert 1.0 <= m.errors["kappa"] <= m.errors["kappa_upper"]
