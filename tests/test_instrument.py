"""Gradient variance (Figs 2, 5) and loss landscape (Fig 3) measurements on a tiny problem."""
import csv
import math
import numpy as np
import pytest
import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from trainers.estimators import flatten_grads, per_sample_grads_loop
from trainers.instrument import (ValueExpansion, drop_after, filter_normalised_direction, gradient_gram,
                                 gradient_variance, landscape_path, log_gradient_variance, save_landscape,
                                 variance_from_gram)
from verify.stats import log_slope

DS, DA = 3, 2


class Policy(nn.Module):
    def __init__(self, sn=False):
        super().__init__()
        wrap = spectral_norm if sn else (lambda m: m)
        self.net = nn.Sequential(wrap(nn.Linear(DS, 16)), nn.Tanh(), wrap(nn.Linear(16, DA)))

    def forward(self, s, vs):
        return torch.tanh(self.net(s)) + 0.1 * vs, None


def make_vx(gain=1.0, sn=False, seed=0):
    torch.manual_seed(seed)
    policy = Policy(sn)
    B = torch.randn(DS, DA) * 0.5
    A = gain * torch.eye(DS)
    return ValueExpansion(
        policy=policy,
        model=lambda s, a, xi: s @ A.T + a @ B.T + 0.05 * xi,
        reward=lambda s, a: -(s ** 2).sum(-1) - 0.1 * (a ** 2).sum(-1),
        critic=lambda s, a: -(s ** 2).sum(-1) - (a ** 2).sum(-1),
        gamma=0.99, action_noise_dim=DA, model_noise_dim=DS)


def test_variance_matches_per_sample_loop():
    vx = make_vx()
    s0 = torch.randn(40, DS, generator=torch.Generator().manual_seed(1))
    noise = vx.sample_noise(4, 40, torch.Generator().manual_seed(2))
    (st,) = gradient_variance(vx, s0, [4], noise=noise)
    g = flatten_grads(per_sample_grads_loop(vx.policy, vx.value_fn(4), s0, noise)).double()
    want = g.var(0, unbiased=True).sum().item()
    assert st.total == pytest.approx(want, rel=1e-5)
    assert st.mean_per_param == pytest.approx(want / g.shape[1], rel=1e-5)
    assert st.n_params == g.shape[1] and st.n_samples == 40
    gram = gradient_gram(vx, s0, 4, noise, chunk=13)
    assert float(variance_from_gram(gram)) == pytest.approx(want, rel=1e-5)


def test_resampled_variance_from_gram():
    g = torch.randn(30, 5, dtype=torch.float64)
    idx = torch.randint(0, 30, (30,), generator=torch.Generator().manual_seed(0))
    counts = torch.bincount(idx, minlength=30)
    got = variance_from_gram(g @ g.T, torch.stack([counts, torch.ones(30, dtype=torch.long)]))
    assert float(got[0]) == pytest.approx(float(g[idx].var(0).sum()), rel=1e-9)
    assert float(got[1]) == pytest.approx(float(g.var(0).sum()), rel=1e-9)


def test_variance_grows_with_h_for_an_expansive_model_and_not_a_contractive_one():
    s0 = torch.randn(64, DS, generator=torch.Generator().manual_seed(3)) * 0.1
    hs = [0, 2, 4, 6, 8]
    grow = [st.total for st in gradient_variance(make_vx(gain=1.4), s0, hs)]
    shrink = [st.total for st in gradient_variance(make_vx(gain=0.5), s0, hs)]
    assert log_slope(hs, grow) > 0.3
    assert grow[-1] > 10 * shrink[-1]


def test_spectral_norm_policy_differentiates_the_trained_parameters():
    # the variance is of the gradient with respect to the parameters the optimiser moves
    # (the SN layer's unnormalised weight), checked against the one-by-one autograd oracle
    vx = make_vx(sn=True)
    s0 = torch.randn(24, DS, generator=torch.Generator().manual_seed(4))
    noise = vx.sample_noise(3, 24, torch.Generator().manual_seed(5))
    (st,) = gradient_variance(vx, s0, [3], noise=noise)
    vx.policy.eval()
    g = flatten_grads(per_sample_grads_loop(vx.policy, vx.value_fn(3), s0, noise)).double()
    assert st.total == pytest.approx(g.var(0).sum().item(), rel=1e-4)


def test_spectral_norm_policy_is_measured_in_eval_mode_and_state_restored():
    vx = make_vx(sn=True)
    vx.policy.train()
    u_before = vx.policy.net[0].parametrizations.weight[0]._u.clone()
    s0 = torch.randn(16, DS)
    gradient_variance(vx, s0, [2, 3])
    assert vx.policy.training and vx.policy.net[0].training
    assert torch.equal(u_before, vx.policy.net[0].parametrizations.weight[0]._u)


def test_log_gradient_variance_writes_one_row_per_h(tmp_path):
    vx = make_vx()
    s0 = torch.randn(16, DS)
    out = log_gradient_variance(vx, s0, hs=[0, 5], current_h=3, step=100, run_dir=tmp_path)
    again = log_gradient_variance(vx, s0, hs=[0, 5], current_h=3, step=100, run_dir=tmp_path)
    assert out == again  # noise is a function of (seed, step): reproducible under resume
    rows = list(csv.DictReader((tmp_path / "gradvar.csv").open()))
    assert [int(r["h"]) for r in rows] == [0, 3, 5, 0, 3, 5]
    cur = next(r for r in rows if r["h"] == "3")
    assert float(cur["total"]) == pytest.approx(out["gradvar_total"])
    assert float(cur["mean_per_param"]) == pytest.approx(out["gradvar_mean"])


def test_measuring_leaves_training_untouched():
    # the hooks run inside the train loop: no global RNG draws, no parameter or mode change
    vx = make_vx(sn=True)
    vx.policy.train()
    s0 = torch.randn(8, DS)
    state = torch.get_rng_state()
    params = {k: v.clone() for k, v in vx.policy.state_dict().items()}
    log_gradient_variance(vx, s0, hs=[1], current_h=2, step=3)
    assert torch.equal(state, torch.get_rng_state()) and vx.policy.training
    assert all(torch.equal(params[k], v) for k, v in vx.policy.state_dict().items())


def test_drop_after_forgets_replaced_steps(tmp_path):
    vx = make_vx()
    s0 = torch.randn(4, DS)
    for step in (100, 200):
        log_gradient_variance(vx, s0, hs=[0], current_h=1, step=step, run_dir=tmp_path)
        save_landscape(vx, s0, landscape_path(tmp_path, step, 1), h=1, step=step, n_grid=3)
    drop_after(tmp_path, 150)
    assert {r["step"] for r in csv.DictReader((tmp_path / "gradvar.csv").open())} == {"100"}
    assert sorted(p.name for p in (tmp_path / "landscapes").iterdir()) == ["step000000100_h1.npz", "step000000100_h1.png"]


def test_filter_normalisation():
    params = {"w": torch.randn(4, 6), "b": torch.randn(4)}
    d = filter_normalised_direction(params, torch.Generator().manual_seed(0))
    assert torch.allclose(d["w"].norm(dim=1), params["w"].norm(dim=1))
    assert torch.all(d["b"] == 0)


def test_save_landscape(tmp_path):
    vx = make_vx()
    s0 = torch.randn(8, DS)
    before = {k: v.clone() for k, v in vx.policy.state_dict().items()}
    path = save_landscape(vx, s0, landscape_path(tmp_path, 500, 3), h=3, step=500, n_grid=5)
    data = np.load(path)
    assert data["loss"].shape == (5, 5) and int(data["h"]) == 3 and int(data["step"]) == 500
    assert path.with_suffix(".png").stat().st_size > 0
    # the centre of the grid is the current policy: −V̂ at θ
    from trainers.estimators import mve_value
    noise = vx.sample_noise(3, 8, torch.Generator().manual_seed(0))
    centre = -mve_value(vx.policy, vx.model, vx.reward, vx.critic, s0, noise, 3, vx.gamma).mean().detach()
    assert data["loss"][2, 2] == pytest.approx(centre.item(), rel=1e-5)
    assert all(torch.equal(before[k], v) for k, v in vx.policy.state_dict().items())


@pytest.mark.parametrize("sn", [False, True])
def test_hooks_on_a_trainer_agent(tmp_path, sn):
    from trainers.algos import make_agent
    from trainers.config import Config
    from trainers.instrument import value_expansion
    torch.manual_seed(0)
    cfg = Config(algo="rp-dp", h=3, sn=sn, policy_hidden=16, critic_hidden=16, model_hidden=16, reward_hidden=16)
    agent = make_agent(cfg, 11, 3)
    vx = value_expansion(agent)
    s0 = torch.randn(12, 11)
    out = log_gradient_variance(vx, s0, hs=[0, 5], current_h=cfg.h, step=1000, run_dir=tmp_path)
    assert out["gradvar_total"] > 0 and math.isfinite(out["gradvar_total"])
    path = save_landscape(vx, s0, landscape_path(tmp_path, 1000, cfg.h), h=cfg.h, step=1000, n_grid=3)
    assert np.isfinite(np.load(path)["loss"]).all()
