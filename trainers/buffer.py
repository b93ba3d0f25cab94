"""Replay buffer with no eviction (it grows; the paper's runs fit in memory) and sampling of
within-episode windows for the h-step model loss (B.2) and RP-DR's real trajectories (4.5).

``varsigma`` is the policy noise ς with π(s, ς) = a when the action was taken (RP-DR with
``dr_noise = "acting"``); other trainers leave it at zero."""
from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

FIELDS = ("obs", "act", "rew", "next_obs", "terminated", "done", "varsigma")


class ReplayBuffer:
    def __init__(self, obs_dim: int, act_dim: int, capacity: int = 4096):
        self.size = 0
        self.data = {
            "obs": np.zeros((capacity, obs_dim), np.float32), "act": np.zeros((capacity, act_dim), np.float32),
            "rew": np.zeros(capacity, np.float32), "next_obs": np.zeros((capacity, obs_dim), np.float32),
            "terminated": np.zeros(capacity, np.float32), "done": np.zeros(capacity, bool),
            "varsigma": np.zeros((capacity, act_dim), np.float32),
        }
        # done_cum[i] = number of episode ends among transitions 0..i-1: O(1) window validity checks
        self.done_cum = np.zeros(capacity + 1, np.int64)

    def add(self, obs, act, rew, next_obs, terminated: bool, done: bool, varsigma=0.0) -> None:
        """``done`` marks the last transition of an episode (terminated or truncated)."""
        if self.size == len(self.data["rew"]):
            self.data = {k: np.concatenate([v, np.zeros_like(v)]) for k, v in self.data.items()}
            self.done_cum = np.concatenate([self.done_cum, np.zeros(len(self.done_cum) - 1, np.int64)])
        i = self.size
        for k, v in zip(FIELDS, (obs, act, rew, next_obs, terminated, done, varsigma)):
            self.data[k][i] = v
        self.done_cum[i + 1] = self.done_cum[i] + bool(done)
        self.size += 1

    def sample(self, n: int, rng: np.random.Generator) -> dict[str, Tensor]:
        idx = rng.integers(0, self.size, n)
        return {k: torch.from_numpy(v[idx]) for k, v in self.data.items() if k not in ("done", "varsigma")}

    def sample_windows(self, n: int, length: int, rng: np.random.Generator, recent: int | None = None):
        """``n`` windows of ``length`` consecutive transitions inside one episode (only the last may
        end it). Returns states (length+1, n, d_s), actions and acting noise ς (length, n, d_a), rewards
        (length, n)."""
        lo = 0 if recent is None else max(0, self.size - recent)
        hi = self.size - length + 1  # exclusive bound of the start index
        if hi <= lo:
            raise ValueError(f"buffer holds {self.size} steps, a window needs {length}")
        starts = np.empty(0, np.int64)
        for _ in range(1000):
            t = rng.integers(lo, hi, 2 * n)
            ok = self.done_cum[t + length - 1] == self.done_cum[t]
            starts = np.concatenate([starts, t[ok]])
            if len(starts) >= n:
                break
        else:
            raise ValueError(f"no episode segment of {length} steps in the sampled range")
        idx = starts[:n, None] + np.arange(length)  # (n, length)
        obs = self.data["obs"][idx].transpose(1, 0, 2)
        last = self.data["next_obs"][idx[:, -1]][None]
        states = torch.from_numpy(np.concatenate([obs, last]))
        actions = torch.from_numpy(self.data["act"][idx].transpose(1, 0, 2))
        rewards = torch.from_numpy(self.data["rew"][idx].T.copy())
        varsigma = torch.from_numpy(self.data["varsigma"][idx].transpose(1, 0, 2))
        return states, actions, rewards, varsigma

    def state_dict(self) -> dict:
        return {"size": self.size, **{k: v[:self.size].copy() for k, v in self.data.items()}}

    def load_state_dict(self, d: dict) -> None:
        n = d["size"]
        cap = max(4096, 1 << (n - 1).bit_length()) if n else 4096
        for k in FIELDS:
            v = d[k] if k in d else np.zeros_like(d["act"])  # checkpoints from before ς was stored
            arr = np.zeros((cap,) + v.shape[1:], v.dtype)
            arr[:n] = v
            self.data[k] = arr
        self.done_cum = np.zeros(cap + 1, np.int64)
        self.done_cum[1:n + 1] = np.cumsum(d["done"])
        self.size = n
