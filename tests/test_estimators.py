"""The shared estimator core: vectorised per-sample gradients and the fast variance against the
naive loop, RP-DR against RP-DP with an exact model, pathwise Jacobians against finite differences."""
import math

import pytest
import torch

from toy_mdps.base import NeuralPolicy
from toy_mdps.lqr import LQR
from trainers.estimators import (flatten_grads, gradient_variance, per_sample_grads, per_sample_grads_loop,
                                 per_sample_sq_norms, sample_start_states, trajectory_jacobians)
from verify.measure import estimator_inputs, value_fn

torch.set_num_threads(1)  # tiny float64 ops; threads only contend on a shared 2-core machine


def lqr(**kw):
    return LQR.random(3, model_error=0.05, **kw)


def neural(problem):
    problem.policy = NeuralPolicy(problem.d_s, problem.d_a, (16, 16), 0.1, problem.noise_kind,
                                  torch.Generator().manual_seed(0))
    return problem


@pytest.mark.parametrize("h", [0, 3, math.inf])
@pytest.mark.parametrize("make", [lqr, lambda: neural(lqr())])
def test_vmap_equals_loop(h, make):
    p = make()
    s0, noise = estimator_inputs(p, h, 0.5, 24, torch.Generator().manual_seed(1), horizon_inf=12)
    fn = value_fn(p, h)
    fast = flatten_grads(per_sample_grads(p.policy, fn, s0, noise))
    slow = flatten_grads(per_sample_grads_loop(p.policy, fn, s0, noise))
    assert torch.allclose(fast, slow, rtol=1e-6, atol=1e-12)


@pytest.mark.parametrize("h", [0, 3, math.inf])
@pytest.mark.parametrize("make", [lqr, lambda: neural(lqr())])
def test_fast_variance_equals_loop(h, make):
    p = make()
    s0, noise = estimator_inputs(p, h, 0.5, 32, torch.Generator().manual_seed(2), horizon_inf=12)
    fn = value_fn(p, h)
    loop = gradient_variance(p.policy, fn, s0, noise, "loop")
    sq, mean = per_sample_sq_norms(p.policy, fn, s0, noise)
    g = flatten_grads(per_sample_grads_loop(p.policy, fn, s0, noise))
    assert torch.allclose(sq, g.pow(2).sum(1), rtol=1e-9)
    assert torch.allclose(mean, g.mean(0), rtol=1e-9, atol=1e-14)
    for method in ("fast", "vmap"):
        assert abs(gradient_variance(p.policy, fn, s0, noise, method) / loop - 1) < 1e-6


def test_fast_variance_rejects_non_linear_parameters():
    p = LQR.random(3, learn_sigma=True)
    s0, noise = estimator_inputs(p, 2, 0.0, 4, torch.Generator().manual_seed(0))
    with pytest.raises(ValueError, match="sigma"):
        per_sample_sq_norms(p.policy, value_fn(p, 2), s0, noise)


@pytest.mark.parametrize("h", [1, 4, math.inf])
def test_dr_equals_dp_with_exact_model(h):
    p = LQR.random(5)  # (Â, B̂) = (A, B)
    fn = value_fn(p, h)
    dp = estimator_inputs(p, h, 0.5, 64, torch.Generator().manual_seed(3), "dp", horizon_inf=15)
    dr = estimator_inputs(p, h, 0.5, 64, torch.Generator().manual_seed(3), "dr", horizon_inf=15)
    assert torch.allclose(dp[1].xi, dr[1].xi, atol=1e-12)
    g_dp = flatten_grads(per_sample_grads(p.policy, fn, *dp))
    g_dr = flatten_grads(per_sample_grads(p.policy, fn, *dr))
    assert torch.allclose(g_dp, g_dr, rtol=1e-9, atol=1e-12)


def test_dr_reproduces_real_states_with_wrong_model():
    p = LQR.random(5, model_error=0.2)
    s0, noise = estimator_inputs(p, 6, 0.5, 16, torch.Generator().manual_seed(4), "dr")
    g = torch.Generator().manual_seed(4)  # replay the draws of estimator_inputs
    s0_real = sample_start_states(0.5, p.sample_nu, p.sample_zeta, 16, g)
    real_noise = p.sample_noise(6, 16, g)
    real, real_actions = p.rollout(s0_real, real_noise)
    imagined, imagined_actions = p.rollout(s0, noise, p.model)
    assert not torch.allclose(noise.xi, real_noise.xi)
    assert torch.allclose(imagined, real, atol=1e-12)
    assert torch.allclose(imagined_actions, real_actions, atol=1e-12)


@pytest.mark.parametrize("which", ["model", "true_model"])
def test_trajectory_jacobians_match_finite_differences(which):
    p = neural(LQR.random(6, model_error=0.1))
    f = getattr(p, which)
    s0 = p.sample_zeta(3, torch.Generator().manual_seed(0))
    noise = p.sample_noise(8, 3, torch.Generator().manual_seed(1))
    ds, da = trajectory_jacobians(p.policy, f, s0, noise, 8)
    name, param = next(iter(p.policy.named_parameters()))
    eps = 1e-6
    for idx in [(0, 0), (5, 1)]:
        with torch.no_grad():
            param[idx] += eps
            sp, ap = p.rollout(s0, noise, f)
            param[idx] -= 2 * eps
            sm, am = p.rollout(s0, noise, f)
            param[idx] += eps
        col = idx[0] * param.shape[1] + idx[1]
        assert torch.allclose(ds[..., col], (sp - sm) / (2 * eps), atol=1e-7)
        assert torch.allclose(da[..., col], (ap - am) / (2 * eps), atol=1e-7)


def test_start_state_mixture_extremes():
    p = LQR.random(0)
    g = lambda: torch.Generator().manual_seed(0)
    assert sample_start_states(0.0, p.sample_nu, p.sample_zeta, 50, g()).abs().max() <= p.z * 3 ** 0.5
    frac = (sample_start_states(0.3, lambda k, gen: torch.ones(k, 4, dtype=torch.float64),
                                lambda k, gen: torch.zeros(k, 4, dtype=torch.float64), 4000, g())[:, 0]).mean()
    assert abs(float(frac) - 0.3) < 0.03


def test_fast_squared_norms_refuse_spectral_norm():
    """Under spectral norm the hooks see W/σ(W), not θ: the fast method must refuse, not be wrong."""
    policy = torch.nn.Sequential(torch.nn.utils.parametrizations.spectral_norm(torch.nn.Linear(2, 2)))
    with pytest.raises(ValueError, match="parametrized"):
        per_sample_sq_norms(policy, lambda pol, s, nz: pol(s).sum(-1), torch.zeros(3, 2), None)


def test_start_state_mixture_validates_beta():
    """β ∈ [0, 1] exactly: both ends accepted (all from ν, all from ζ), anything outside refused."""
    nu = lambda k, gen: torch.ones(k, 3, dtype=torch.float64)
    zeta = lambda k, gen: torch.zeros(k, 3, dtype=torch.float64)
    g = torch.Generator().manual_seed(0)
    for beta in (-0.1, 1.5):
        with pytest.raises(ValueError, match=r"beta must lie in \[0, 1\]"):
            sample_start_states(beta, nu, zeta, 4, g)
    assert torch.equal(sample_start_states(1.0, nu, zeta, 5, g), torch.ones(5, 3, dtype=torch.float64))
    assert torch.equal(sample_start_states(0.0, nu, zeta, 5, g), torch.zeros(5, 3, dtype=torch.float64))


def test_gradient_variance_needs_two_samples():
    p = lqr()
    s0, noise = estimator_inputs(p, 1, 0.5, 2, torch.Generator().manual_seed(3), horizon_inf=12)
    fn = value_fn(p, 1)
    assert gradient_variance(p.policy, fn, s0, noise) >= 0
    with pytest.raises(ValueError, match="at least 2 samples, got 1"):
        gradient_variance(p.policy, fn, s0[:1], noise.select(slice(0, 1)))
