"""The torch termination rules agree with the real environments' ``terminated`` flag."""
import gymnasium as gym
import numpy as np
import pytest
import torch

from trainers.termination import TERMINAL


def record(env_id: str, steps: int, seed: int = 0):
    env = gym.make(env_id)
    rng = np.random.default_rng(seed)
    obs, _ = env.reset(seed=seed)
    next_obs, flags = [], []
    for i in range(steps):
        # random actions make the robots fall within tens of steps: many unhealthy transitions
        obs, _, terminated, truncated, _ = env.step(rng.uniform(-1, 1, env.action_space.shape))
        next_obs.append(obs)
        flags.append(terminated)
        if terminated or truncated:
            obs, _ = env.reset(seed=seed + i + 1)
    return torch.as_tensor(np.array(next_obs), dtype=torch.float32), torch.tensor(flags)


@pytest.mark.parametrize("env_id", ["Hopper-v5", "Walker2d-v5"])
def test_termination_matches_env(env_id):
    s, terminated = record(env_id, 3000)
    assert terminated.sum() >= 20 and (~terminated).sum() >= 1000  # both kinds are represented
    pred = TERMINAL[env_id](s)
    assert torch.equal(pred, terminated)
    # also batched over a leading time axis, as in a model unroll
    assert torch.equal(TERMINAL[env_id](s.reshape(-1, 10, s.shape[-1])).flatten(), terminated)
