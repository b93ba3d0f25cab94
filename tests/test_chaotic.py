"""The sine family: exact Lipschitz constants, the invariant interval, the Lyapunov exponent, and
the finite-difference ∇J against the RP estimator."""
import math

import pytest
import torch

from toy_mdps.chaotic import SineMDP
from verify.measure import bias_bound, sample_gradients

torch.set_num_threads(1)  # tiny float64 ops; threads only contend on a shared 2-core machine


@pytest.mark.parametrize("L", [0.7, 1.0, 1.5, 4.0])
def test_lipschitz_exact_and_interval_invariant(L):
    p = SineMDP.with_lipschitz(L)
    c = p.lipschitz()
    assert math.isclose(c["L_f"], L)
    g = torch.Generator().manual_seed(0)
    s0 = torch.cat([p.sample_zeta(200, g), p.sample_nu(200, g)])
    noise = p.sample_noise(200, 400, g)
    for model in (p.true_model, p.model):
        states, _ = p.rollout(s0, noise, model)
        assert states.abs().max() <= p.radius
    # difference quotients of f in (s, a, ξ) approach L_f near s = 0 and never exceed it
    x = torch.rand(5000, 3, generator=g, dtype=torch.float64) * 0.02 - 0.01
    y = x + torch.randn(5000, 3, generator=g, dtype=torch.float64) * 1e-3
    f = lambda z: p.true_model(z[:, :1], z[:, 1:2], z[:, 2:])
    q = (f(x) - f(y)).norm(dim=-1) / (x - y).norm(dim=-1)
    assert q.max() <= L * (1 + 1e-12) and q.max() >= 0.99 * L


def test_lyapunov_exponent_sign():
    contracting = SineMDP.with_lipschitz(0.7).lyapunov_exponent(n=50, steps=500)
    assert float(contracting.value) <= math.log(0.7)
    chaotic = SineMDP(4.0).lyapunov_exponent(n=50, steps=500)
    assert float(chaotic.value - 3 * chaotic.stderr) > 0


def test_finite_difference_gradient_matches_bptt():
    p = SineMDP.with_lipschitz(0.7)
    fd = p.grad_J(n=4000)
    grads = sample_gradients(p, math.inf, 0.0, 4000, seed=1, horizon_inf=p.truncation_horizon())
    assert bias_bound(grads, fd.value, level=0.99, true_grad_error=fd.half_width(0.99)).lower == 0.0


def test_eps_f_readings():
    p = SineMDP(1.2, lam_hat=1.0)
    exact = SineMDP(1.2)
    assert exact.eps_f(3) == 0.0 and exact.eps_f(3, "independent") > 0
    assert p.eps_f(3) > 0
