"""Closed-form E ĝ, v_t(1) of RP-DP/RP-DR (toy_mdps.lqr_exact) against Monte Carlo of the shared
estimator (trainers.estimators through verify.measure) at 99%, and against ∇J where they must agree."""
import math

import numpy as np
import pytest
import torch

from toy_mdps.lqr import LQR
from toy_mdps.lqr_exact import eps_v_interval, moments
from verify.measure import sample_gradients
from verify.stats import norm_of_mean_ci, variance_ci

torch.set_num_threads(1)
NOISE_COV = [[0.04, 0.01], [0.01, 0.02]]  # correlated across state dimensions
INIT_COV = [[0.3, 0.1], [0.1, 0.2]]


def problem(noise: str, model_error: float = 0.1, delta_v: float = 0.5) -> LQR:
    p = LQR.random(3, d_s=2, d_a=2, model_error=model_error, noise=noise, certify=False,
                   noise_cov=NOISE_COV, init_cov=INIT_COV)
    if delta_v:
        p.critic = p.critic_with_error(delta_v, seed=1)
    return p


CASES = [("gaussian", "dp", 2, 0.5), ("gaussian", "dr", math.inf, 0.0), ("uniform", "dp", 0, 1.0),
         ("uniform", "dr", 2, 0.5)]


@pytest.mark.parametrize("noise,estimator,h,beta", CASES)
def test_closed_form_inside_monte_carlo_intervals(noise, estimator, h, beta):
    p = problem(noise)
    exact = moments(p, h, beta, estimator, horizon_inf=20)
    g = sample_gradients(p, h, beta, 4000, estimator, seed=11, horizon_inf=20).numpy()
    _, lo, hi, _ = variance_ci(g, 0.99)
    assert lo <= exact.variance <= hi
    assert norm_of_mean_ci(g, exact.mean, 0.99)[1] == 0.0  # E ĝ inside the 99% ball


def test_kurtosis_term_matters_for_uniform_noise():
    """Uniform noise has the same covariances but smaller fourth moments: same E ĝ, smaller v."""
    g, u = moments(problem("gaussian"), 3, 0.5), moments(problem("uniform"), 3, 0.5)
    assert np.allclose(g.mean, u.mean, rtol=1e-12, atol=1e-14)
    assert u.variance < 0.97 * g.variance


def test_exact_model_bptt_is_unbiased_and_rp0_from_nu_is_scaled():
    p = problem("uniform", model_error=0.0, delta_v=0.0)
    m = moments(p, math.inf, 0.0, "dp", horizon_inf=150)  # omitted tail O(γ^150) ≈ 1e-7
    assert m.bias < 1e-6 * np.linalg.norm(m.true_grad)
    assert np.allclose(moments(p, 0, 1.0).mean, (1 - p.gamma) * p.grad_J()["K.weight"].reshape(-1), atol=1e-12)


def test_dr_equals_dp_with_exact_model():
    p = problem("gaussian", model_error=0.0)
    dp, dr = moments(p, 4, 0.5, "dp"), moments(p, 4, 0.5, "dr")
    assert np.allclose(dp.mean, dr.mean) and np.allclose(dp.cov, dr.cov)


def test_eps_v_interval_contains_monte_carlo():
    p = problem("uniform")
    for h in (0, 3):
        lo, hi = eps_v_interval(p, h)
        est, se = p.eps_v(p.critic, h, "coupled", n=20000, seed=0)
        assert lo - 3 * se <= est <= hi + 3 * se and lo < hi
    assert eps_v_interval(problem("uniform", delta_v=0.0, model_error=0.0), 2) == (0.0, 0.0)
    exact = problem("uniform", delta_v=0.0, model_error=0.0)
    lo, hi = eps_v_interval(exact, 2, reading="independent")  # > 0 at zero error under this reading
    est, se = exact.eps_v(exact.critic, 2, "independent", n=20000, seed=0)
    assert 0 < lo - 3 * se <= est <= hi + 3 * se


def test_general_covariances_reach_sampler_and_closed_form():
    p = problem("gaussian")
    s = p.sample_zeta(40000, torch.Generator().manual_seed(0)).numpy()
    assert np.abs(s.T @ s / len(s) - np.array(INIT_COV)).max() < 0.01
    assert np.allclose(p.nu_mixture()[1][0], INIT_COV)
    with pytest.raises(ValueError):
        moments(problem("gaussian"), 2, 1.5)
