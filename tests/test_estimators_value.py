"""Eq. (4.1) as computed by trainers.estimators.mve_value, against a hand-written unroll."""
import math

import pytest
import torch

from trainers.estimators import Noise, mve_value, rp_objective

torch.set_num_threads(1)
A, B, C, K, GAMMA = 0.9, 0.5, 0.2, -0.4, 0.95


def policy(s, vs):
    return K * s + 0.3 * vs, torch.full(s.shape[:1], 0.7, dtype=s.dtype)  # logp = 0.7


def model(s, a, xi):
    return A * s + B * a + C * xi


def reward(s, a):
    return -(s**2 + 0.5 * a**2).sum(-1)


def critic(s, a):
    return -(2.0 * s**2 + a**2).sum(-1)


def inputs(horizon, n=3):
    g = torch.Generator().manual_seed(0)
    s0 = torch.randn(n, 1, generator=g, dtype=torch.float64)
    return s0, Noise(torch.randn(horizon + 1, n, 1, generator=g, dtype=torch.float64),
                     torch.randn(horizon, n, 1, generator=g, dtype=torch.float64))


def terminal(s):
    return s[:, 0] > 0.4


def done_prob(s, a):
    return 0.3 * torch.sigmoid((s + a)[:, 0])


def by_hand(s0, noise, h, alpha=0.0, term=None, done=None):
    # (4.1): Σ_{i<h} γ^i ρ_i (r(ŝ_i, â_i) − α log π) + γ^h ρ_h (Q̂(ŝ_h, â_h) − α log π); h = ∞: all
    # noise steps, no critic; ρ_0 = 1, ρ_{i+1} = ρ_i (1 − p(ŝ_i, â_i)) 1[ŝ_{i+1} not terminal]
    steps = noise.horizon if math.isinf(h) else h
    s, v = s0, torch.zeros(s0.shape[0], dtype=s0.dtype)
    alive = torch.ones_like(v)
    for i in range(steps):
        a = K * s + 0.3 * noise.varsigma[i]
        v = v + GAMMA**i * alive * (reward(s, a) - alpha * 0.7)
        if done is not None:
            alive = alive * (1 - done(s, a))
        s = A * s + B * a + C * noise.xi[i]
        if term is not None:
            alive = alive * (~term(s)).double()
    if not math.isinf(h):
        a = K * s + 0.3 * noise.varsigma[steps]
        v = v + GAMMA**steps * alive * (critic(s, a) - alpha * 0.7)
    return v


@pytest.mark.parametrize("h", [0, 1, 3, math.inf])
def test_mve_value_is_eq_4_1(h):
    s0, noise = inputs(5)  # the noise covers more steps than a finite h uses
    got = mve_value(policy, model, reward, None if math.isinf(h) else critic, s0, noise, h, GAMMA)
    assert torch.allclose(got, by_hand(s0, noise, h), rtol=1e-12, atol=0)
    got = mve_value(policy, model, reward, critic, s0, noise, 3, GAMMA, alpha=0.2)
    assert torch.allclose(got, by_hand(s0, noise, 3, alpha=0.2), rtol=1e-12, atol=0)
    obj = rp_objective(policy, model, reward, None if math.isinf(h) else critic, s0, noise, h, GAMMA)
    assert obj.shape == () and torch.allclose(obj, by_hand(s0, noise, h).mean(), rtol=1e-12, atol=0)
    # rp_objective passes α, terminal and done_prob on
    c = None if math.isinf(h) else critic
    obj = rp_objective(policy, model, reward, c, s0, noise, h, GAMMA, 0.2, terminal, done_prob)
    want = by_hand(s0, noise, h, alpha=0.2, term=terminal, done=done_prob).mean()
    assert torch.allclose(obj, want, rtol=1e-12, atol=0)


@pytest.mark.parametrize("h", [2, math.inf])
def test_mve_value_with_termination(h):
    s0, noise = inputs(5, n=8)
    c = None if math.isinf(h) else critic
    want = by_hand(s0, noise, h, term=terminal)
    assert 0 < int((want != by_hand(s0, noise, h)).sum()) < 8  # some, not all, trajectories end
    got = mve_value(policy, model, reward, c, s0, noise, h, GAMMA, terminal=terminal)
    assert torch.allclose(got, want, rtol=1e-12, atol=0)
    got = mve_value(policy, model, reward, c, s0, noise, h, GAMMA, done_prob=done_prob)
    assert torch.allclose(got, by_hand(s0, noise, h, done=done_prob), rtol=1e-12, atol=0)


def test_mve_value_rejects_bad_input_with_its_message():
    s0, noise = inputs(2)
    with pytest.raises(ValueError, match=r"^h must be >= 0, got -1$"):
        mve_value(policy, model, reward, critic, s0, noise, -1, GAMMA)
    with pytest.raises(ValueError, match=r"^noise covers 2 model steps, h = 3 needs more$"):
        mve_value(policy, model, reward, critic, s0, noise, 3, GAMMA)
    with pytest.raises(ValueError, match=r"^a finite h needs a critic for the tail gamma\^h Q\(s_h, a_h\)$"):
        mve_value(policy, model, reward, None, s0, noise, 1, GAMMA)
