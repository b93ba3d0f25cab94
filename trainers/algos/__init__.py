"""One file per algorithm of Section 7; ``make_agent`` builds the one ``cfg.algo`` names."""
from __future__ import annotations

from trainers.agents import Agent
from trainers.algos.ddpg import DDPG
from trainers.algos.rp_dp import RPDP
from trainers.algos.rp_dr import RPDR
from trainers.config import Config

AGENTS = {"rp-dp": RPDP, "rp-dr": RPDR, "ddpg": DDPG, "rp0": RPDP}  # RP(0) is RP-DP at h = 0


def make_agent(cfg: Config, obs_dim: int, act_dim: int) -> Agent:
    return AGENTS[cfg.algo](cfg, obs_dim, act_dim)
