"""Spectral norm really bounds the layers after training; the trainers' policy objective is the
shared ``trainers.estimators.rp_objective``."""
import numpy as np
import pytest
import torch

from trainers import estimators
from trainers.algos import make_agent
from trainers.buffer import ReplayBuffer
from trainers.config import Config
from trainers.envs import make_env
from trainers.networks import sn_weights


def filled(cfg: Config, n: int = 400):
    torch.manual_seed(0)
    env, max_steps = make_env(cfg.env)
    agent = make_agent(cfg, env.observation_space.shape[0], env.action_space.shape[0])
    buffer = ReplayBuffer(env.observation_space.shape[0], env.action_space.shape[0])
    rng = np.random.default_rng(0)
    obs, _ = env.reset(seed=0)
    t = 0
    for _ in range(n):
        a = rng.uniform(-1, 1, agent.act_dim)
        nxt, r, term, _, _ = env.step(a)
        t += 1
        buffer.add(obs, a, r, nxt, term, term or t >= max_steps)
        obs = nxt
        if term or t >= max_steps:
            obs, _ = env.reset()
            t = 0
    return agent, buffer, rng


@pytest.mark.parametrize("sn_policy", ["hidden", "all"])
def test_spectral_norm_at_most_one_after_updates(sn_policy):
    # default learning rates; SN's one power iteration per update lags a weight that moves fast,
    # all the more after orthogonal initialisation (every singular value 1: no spectral gap for the
    # power iteration to converge on); at lr 3e-4 one policy layer reaches ~1.02, at 1e-4 none
    # exceeds 1.001. The tolerance is for the estimate, not a bug
    cfg = Config.tiny(algo="rp-dp", h=3, sn=True, sn_policy=sn_policy)
    agent, buffer, rng = filled(cfg)
    raw_before = [m.parametrizations.weight.original.clone() for m in agent.policy.trunk if hasattr(m, "parametrizations")]
    for _ in range(100):
        agent.update(buffer, rng, step=cfg.model_warmup)
    linears = [m for m in agent.policy.trunk if isinstance(m, torch.nn.Linear)]
    if sn_policy == "all":  # paper B.1: every policy layer
        assert len(sn_weights(agent.policy)) == cfg.policy_layers
    else:  # official utils.mlp: the hidden-to-hidden layers only
        assert len(sn_weights(agent.policy)) == cfg.policy_layers - 2
        assert not hasattr(linears[0], "parametrizations") and not hasattr(linears[-1], "parametrizations")
    assert len(sn_weights(agent.model.delta)) == cfg.model_layers - 1  # all model layers but the last
    assert not hasattr(agent.model.delta[-1], "parametrizations")
    raw_after = [m.parametrizations.weight.original for m in agent.policy.trunk if hasattr(m, "parametrizations")]
    assert any(not torch.allclose(a, b) for a, b in zip(raw_before, raw_after))
    for module in (agent.policy, agent.model):
        module.eval()  # the stored power-iteration vectors, as used when acting
        for w in sn_weights(module):
            assert torch.linalg.matrix_norm(w.detach(), ord=2) <= 1.0 + 3e-2
        module.train()


@pytest.mark.parametrize("algo,h", [("rp-dp", 3), ("rp-dr", 3), ("rp0", 0), ("ddpg", 0)])
def test_policy_objective_is_the_shared_estimator(monkeypatch, algo, h):
    calls = []
    original = estimators.rp_objective

    def spy(*args, **kwargs):
        value = original(*args, **kwargs)
        calls.append((args, value.detach()))
        return value

    monkeypatch.setattr(estimators, "rp_objective", spy)
    cfg = Config.tiny(algo=algo, h=h)
    agent, buffer, rng = filled(cfg)
    stats = agent.update(buffer, rng, step=cfg.model_warmup)
    assert len(calls) == 1
    args, value = calls[0]
    assert args[6] == h  # the unroll length reaches the estimator
    assert args[0] is agent.policy and args[1] is (agent.model if h else None)
    assert torch.equal(stats["actor_loss"], -value)  # the policy ascends exactly this objective
    if algo == "rp-dr":
        # RP-DR's noise reproduces the real trajectory: inferred, not drawn
        noise = args[5]
        assert noise.horizon == h


def test_rp_dr_noise_retraces_real_trajectories():
    # (4.3)-(4.5): with the noise inferred at the current θ, π and f̂ reproduce the recorded actions
    # and states (tests/test_trainers_rpdr.py: the noise stored when acting does so on-policy)
    cfg = Config.tiny(algo="rp-dr", h=3, dr_noise="inferred")
    agent, buffer, _ = filled(cfg)
    placeholder = torch.zeros(cfg.batch_size, agent.obs_dim)  # RP-DR draws its own start states
    model, _, s0, noise = agent.estimator_inputs(buffer, placeholder, np.random.default_rng(0), h=3)
    s = s0
    for i in range(3):
        a, _ = agent.policy(s, noise.varsigma[i])
        s = model(s, a, noise.xi[i])
    states, _, _, _ = buffer.sample_windows(cfg.batch_size, 4, np.random.default_rng(0), recent=cfg.dr_recent)
    assert torch.equal(s0, states[0])
    assert torch.allclose(s, states[3], atol=1e-3)
