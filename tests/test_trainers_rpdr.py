"""RP-DR's two readings of the policy noise (4.5): ς inferred at the current θ, or when acting."""
import numpy as np
import torch

from trainers.agents import Agent
from trainers.algos import make_agent
from trainers.buffer import ReplayBuffer
from trainers.config import Config


def acted(cfg: Config, n: int = 300, seed: int = 0):
    """A buffer of n transitions whose actions the agent's own policy drew, ς stored as it acted."""
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    agent, buffer = make_agent(cfg, 11, 3), ReplayBuffer(11, 3)
    for t in range(n):
        obs = rng.normal(size=11)
        action = agent.act(obs, explore=True)
        buffer.add(obs, action, rng.normal(), obs + 0.1 * rng.normal(size=11), t % 25 == 24, t % 25 == 24,
                   agent.acting_noise(obs, action))
    return agent, buffer


def test_acting_noise_reproduces_the_action():
    agent, buffer = acted(Config.tiny(algo="rp-dr", h=2))
    obs = torch.from_numpy(buffer.data["obs"][:buffer.size])
    a, _ = agent.policy(obs, torch.from_numpy(buffer.data["varsigma"][:buffer.size]))
    assert torch.allclose(a, torch.from_numpy(buffer.data["act"][:buffer.size]), atol=1e-5)


def noise(agent: Agent, buffer: ReplayBuffer, h: int, seed: int = 1):
    start = torch.zeros(agent.cfg.batch_size, 11)  # RP-DR ignores the batch states, not their number
    _, _, s0, noise = agent.estimator_inputs(buffer, start, np.random.default_rng(seed), h)
    return s0, noise


def test_the_two_readings_agree_on_policy_and_part_once_theta_moves():
    h = 2
    agent, buffer = acted(Config.tiny(algo="rp-dr", h=h, dr_noise="acting"))
    s0, acting = noise(agent, buffer, h)
    agent.cfg.dr_noise = "inferred"
    s0_inf, inferred = noise(agent, buffer, h)
    assert torch.equal(s0, s0_inf) and torch.equal(acting.xi, inferred.xi)
    assert torch.allclose(acting.varsigma, inferred.varsigma, atol=1e-3)

    with torch.no_grad():
        for p in agent.policy.parameters():
            p.add_(0.1 * torch.randn_like(p))
    _, moved = noise(agent, buffer, h)
    agent.cfg.dr_noise = "acting"
    _, kept = noise(agent, buffer, h)
    assert torch.equal(kept.varsigma, acting.varsigma)  # recorded, whatever θ is now
    assert (moved.varsigma - acting.varsigma).abs().max() > 0.1


def test_checkpoints_from_before_the_noise_was_stored_load_with_zero_noise():
    _, buffer = acted(Config.tiny(algo="rp-dr", h=2), n=30)
    old = {k: v for k, v in buffer.state_dict().items() if k != "varsigma"}
    restored = ReplayBuffer(11, 3)
    restored.load_state_dict(old)
    assert restored.size == 30 and not restored.data["varsigma"].any()
    assert np.array_equal(restored.data["act"][:30], buffer.data["act"][:30])
