"""The choices that make the trainers follow the official code (docs/trainers.md): the horizon
convention, learned termination, observation normalisation, the deterministic imagined model,
SN placement, the batched twin critic, α from the rollout's first step, the entropy schedule, and
resume refusing damaged runs with one line."""
import math

import numpy as np
import pytest
import torch
from torch import nn

from trainers import estimators
from trainers.algos import make_agent
from trainers.buffer import ReplayBuffer
from trainers.config import Config
from trainers.networks import ObsNorm, QNet
from trainers.train import CHECKPOINT, main, train

GAMMA = 0.9


def linear_pieces(calls):
    """A 1-d toy: π(s, ς) = 0.5 s + ς, f̂(s, a, ξ) = s + a + ξ, r = s a, Q = s + a, counting calls."""
    def policy(s, vs):
        calls["policy"] += 1
        return 0.5 * s + vs, None

    def model(s, a, xi):
        calls["model"] += 1
        return s + a + xi

    return policy, model, (lambda s, a: (s * a).sum(-1)), (lambda s, a: (s + a).sum(-1))


def test_h_counts_model_steps_and_official_horizon_is_h_plus_one():
    # (4.1): V̂ = Σ_{i<h} γ^i r_i + γ^h Q(ŝ_h, â_h) — h model steps, h + 1 actions. The official
    # agent's "horizon: H" unrolls H − 1 model steps (dx.unroll_policy: range(horizon - 1)) and
    # puts Q on the H-th action with γ^{H−1}: official H = 3 is h = 2 here.
    calls = {"policy": 0, "model": 0}
    policy, model, reward, critic = linear_pieces(calls)
    s0 = torch.tensor([[1.0]])
    h = 3
    noise = estimators.Noise(torch.zeros(h + 1, 1, 1), torch.zeros(h, 1, 1))
    value = estimators.mve_value(policy, model, reward, critic, s0, noise, h, GAMMA)
    assert calls == {"policy": h + 1, "model": h}
    # by hand: a = s/2, s' = 1.5 s, r = s²/2, Q = 1.5 s
    s = [1.5 ** i for i in range(h + 1)]
    expected = sum(GAMMA ** i * s[i] ** 2 / 2 for i in range(h)) + GAMMA ** h * 1.5 * s[h]
    assert value.item() == pytest.approx(expected)

    def official_expand_q(horizon):  # the official expand_Q with discount=True, written out
        xs = [1.0]
        for _ in range(horizon - 1):
            xs.append(1.5 * xs[-1])
        rewards = [x * x / 2 for x in xs]
        rewards[-1] = 1.5 * xs[-1]
        return sum(GAMMA ** i * r for i, r in enumerate(rewards))

    assert official_expand_q(h + 1) == pytest.approx(expected)
    assert official_expand_q(h) != pytest.approx(expected)


def test_learned_termination_weights_by_survival_and_is_differentiated():
    calls = {"policy": 0, "model": 0}
    policy, model, reward, critic = linear_pieces(calls)
    logit = torch.tensor(-1.0, requires_grad=True)
    p = torch.sigmoid(logit).item()
    done_prob = lambda s, a: torch.sigmoid(logit).expand(s.shape[0])
    s0, h = torch.tensor([[1.0]]), 2
    noise = estimators.Noise(torch.zeros(h + 1, 1, 1), torch.zeros(h, 1, 1))
    value = estimators.mve_value(policy, model, reward, critic, s0, noise, h, GAMMA, done_prob=done_prob)
    s = [1.5 ** i for i in range(h + 1)]
    # the reward of a terminating transition counts; what follows is weighted by survival
    expected = s[0] ** 2 / 2 + GAMMA * (1 - p) * s[1] ** 2 / 2 + GAMMA ** 2 * (1 - p) ** 2 * 1.5 * s[2]
    assert value.item() == pytest.approx(expected)
    (g,) = torch.autograd.grad(value.sum(), logit)
    dp = p * (1 - p)
    expected_g = -dp * (GAMMA * s[1] ** 2 / 2 + GAMMA ** 2 * 2 * (1 - p) * 1.5 * s[2])
    assert g.item() == pytest.approx(expected_g)


def test_obs_norm_tracks_running_mean_and_clipped_std():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(500, 3)) * np.array([0.01, 1.0, 50.0]) + np.array([1.0, -2.0, 3.0])
    norm = ObsNorm(3)
    for chunk in np.array_split(x, [1, 7, 200, 201]):
        norm.update(torch.from_numpy(chunk).float())
    assert np.allclose(norm.shift.numpy(), x.mean(0), atol=1e-4)
    std = x.std(0)
    assert np.allclose(norm.scale.numpy(), [0.1, std[1], 10.0], rtol=1e-4)  # clipped to [0.1, 10]
    z = norm(torch.from_numpy(x).float())
    assert z[:, 1].std().item() == pytest.approx(1.0, rel=1e-2)
    off = ObsNorm(3, enabled=False)
    off.update(torch.ones(4, 3))
    assert torch.equal(off(torch.ones(2, 3)), torch.ones(2, 3))


def filled(cfg: Config, n: int = 300, seed: int = 0):
    """A buffer of random 11-d transitions, every 25th terminating."""
    rng = np.random.default_rng(seed)
    buffer = ReplayBuffer(11, 3)
    for t in range(n):
        obs = rng.normal(size=11) * 3 + 5
        buffer.add(obs, rng.uniform(-1, 1, 3), rng.normal(), obs + 0.1 * rng.normal(size=11),
                   t % 25 == 24, t % 25 == 24)
    torch.manual_seed(seed)
    return make_agent(cfg, 11, 3), buffer, rng


def test_agent_normalises_with_the_buffer_statistics_and_checkpoints_them():
    cfg = Config.tiny(algo="rp-dp", h=2)
    agent, buffer, rng = filled(cfg)
    agent.update(buffer, rng, step=cfg.model_warmup)
    obs = buffer.data["obs"][:buffer.size].astype(np.float64)
    assert np.allclose(agent.obs_norm.shift.numpy(), obs.mean(0), atol=1e-4)
    # one shared normaliser: policy, critics and model read the same statistics
    for net in (agent.policy, agent.critic, agent.critic_target, agent.model):
        assert net.norm is agent.obs_norm
    other, _, _ = filled(cfg, seed=1)
    other.load_state_dict(agent.state_dict())
    assert torch.equal(other.obs_norm.scale, agent.obs_norm.scale) and other.policy.norm is other.obs_norm


def test_imagined_model_is_deterministic_by_default():
    for model_noise in (False, True):
        cfg = Config.tiny(algo="rp-dp", h=3, model_noise=model_noise)
        agent, buffer, rng = filled(cfg)
        s0 = torch.zeros(8, 11)
        *_, noise = agent.estimator_inputs(buffer, s0, rng, h=3)
        assert bool((noise.xi == 0).all()) is not model_noise
        stats = agent.update_model(buffer, rng)
        sigma_before = agent.model.log_std.detach().clone()
        agent.update_model(buffer, rng)
        assert torch.equal(agent.model.log_std, sigma_before) is not model_noise  # σ_ψ fitted only if used
        assert torch.isfinite(stats["model_loss"])


def test_reward_and_termination_fitted_on_single_steps():
    cfg = Config.tiny(algo="rp-dp", h=3, model_lr=3e-3)
    agent, buffer, rng = filled(cfg)
    # terminal transitions are told apart by a feature the classifier can see
    buffer.data["obs"][:buffer.size][buffer.data["terminated"][:buffer.size] == 1, 0] = -20.0
    agent.sync_obs_norm(buffer)
    for _ in range(300):
        stats = agent.update_reward_done(buffer.sample(64, rng))
    b = buffer.sample(256, rng)
    with torch.no_grad():
        p = agent.model.done_prob(b["obs"], b["act"])
    term = b["terminated"] == 1
    assert term.any() and p[term].min() > 0.5 > p[~term].max()
    assert set(stats) == {"reward_loss", "done_loss"}


def test_rp_dp_uses_the_learned_classifier_rule_or_nothing(monkeypatch):
    seen = []
    original = estimators.rp_objective
    monkeypatch.setattr(estimators, "rp_objective",
                        lambda *a, **k: seen.append(k) or original(*a, **k))
    for termination, key in (("learned", "done_prob"), ("rule", "terminal"), ("none", None)):
        cfg = Config.tiny(algo="rp-dp", h=3, termination=termination)
        agent, buffer, rng = filled(cfg)
        agent.update(buffer, rng, step=cfg.model_warmup)
        assert list(seen.pop()) == ([key] if key else [])


@pytest.mark.parametrize("algo,h,passes", [("rp-dp", 3, 5), ("rp0", 0, 2), ("rp-dr", 3, 6)])
def test_alpha_uses_the_rollouts_first_log_prob(algo, h, passes):
    # one pass for the critic's target, then RP-DP and RP(0): the h + 1 rollout passes and no
    # more; RP-DR's first action is the recorded one, so α needs a fresh draw (one extra pass)
    cfg = Config.tiny(algo=algo, h=h)
    agent, buffer, rng = filled(cfg)
    agent.update(buffer, rng, step=cfg.model_warmup)  # warm the lazy paths
    count = [0]
    handle = agent.policy.register_forward_hook(lambda *_: count.__setitem__(0, count[0] + 1))
    stats = agent.update(buffer, rng, step=cfg.model_warmup)
    handle.remove()
    assert count[0] == passes
    assert torch.isfinite(stats["entropy"])


def test_batched_twin_critic_equals_two_separate_mlps():
    torch.manual_seed(0)
    q = QNet(5, 2, 8, 3, twin=True)
    s, a = torch.randn(7, 5), torch.randn(7, 2)
    x = torch.cat([s, a], -1)
    heads = []
    for k in range(2):
        h = x
        for i, (w, b) in enumerate(zip(q.weights, q.biases)):
            h = nn.functional.linear(h, w[k].T, b[k, 0])
            h = torch.relu(h) if i < len(q.weights) - 1 else h
        heads.append(h.squeeze(-1))
    assert torch.allclose(q.all(s, a), torch.stack(heads), atol=1e-6)
    assert torch.allclose(q(s, a), torch.minimum(*heads), atol=1e-6)
    w0 = q.weights[1][0]  # orthogonal initialisation per head
    assert torch.allclose(w0.T @ w0, torch.eye(8), atol=1e-5)


def test_target_entropy_follows_the_official_schedule():
    cfg = Config(env="Hopper-v5")
    assert cfg.target_entropy_at(0) == 0.0
    assert cfg.target_entropy_at(100_000) == pytest.approx(-2 + 2 * 0.8 ** (1 / 32))
    assert cfg.target_entropy_at(500_000) == -2.0
    walker = Config(env="Walker2d-v5")
    assert walker.target_entropy_at(100_000) == pytest.approx(-8 + 6 * 0.9 ** (1 / 16))
    assert Config(target_entropy=-3.0).target_entropy_at(50_000) == -3.0


@pytest.mark.parametrize("damage,needle", [
    ("checkpoint", "corrupt or not a checkpoint"),
    ("run.json", "no run.json"),
    ("config.json", "unreadable config.json"),
])
def test_resume_of_a_damaged_run_exits_2_with_one_line(tmp_path, capsys, damage, needle):
    run = tmp_path / "run"
    assert train(Config.tiny(steps=60, learning_starts=50, out=str(run))) == 0
    if damage == "checkpoint":
        (run / CHECKPOINT).write_bytes((run / CHECKPOINT).read_bytes()[:200])
    elif damage == "run.json":
        (run / "run.json").unlink()
    else:
        (run / "config.json").write_text("{not json")
    capsys.readouterr()
    assert main(["--resume", str(run), "--steps", "100"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and needle in err and "Traceback" not in err


def test_math_is_independent_of_the_acting_cache():
    cfg = Config.tiny(algo="rp-dp", h=3, sn=True)
    agent, buffer, rng = filled(cfg)
    agent.update(buffer, rng, step=cfg.model_warmup)
    obs = buffer.data["obs"][0]
    single = agent.act(obs, explore=False)
    with agent.acting():
        cached = [agent.act(obs, explore=False) for _ in range(3)]
    assert all(np.array_equal(single, c) for c in cached)
    assert agent.policy.training
    assert math.isfinite(float(single.sum()))


def test_resume_of_a_checkpoint_from_another_agent_layout_exits_2(tmp_path, capsys):
    run = tmp_path / "run"
    assert train(Config.tiny(steps=60, learning_starts=50, out=str(run))) == 0
    ck = torch.load(run / CHECKPOINT, weights_only=False)
    del ck["agent"]["critic"]  # as if written before the critic's layout changed
    torch.save(ck, run / CHECKPOINT)
    capsys.readouterr()
    assert main(["--resume", str(run), "--steps", "100"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "does not fit this version's agent" in err
