"""MuJoCo confirmation of Section 7.2/7.3 (Figs 2 and 5): on real Hopper-v5 data, the RP-DP gradient
variance grows exponentially in h through a vanilla learned model, and spectral normalization
lowers it at large h.

Setup (fixed seed, ≈ 3 CPU-minutes, under 15 min on 2 cores): real transitions of a uniform-random
policy; two dynamics models (with and without SN, B.1) trained on them with the trainers' model
learner (the h-step loss, B.2) for the same number of updates; one critic, fitted to the vanilla
policy by soft TD(0) on the same data. The policies are the trainers' GaussianPolicy at its seeded
initialisation (fixed, never trained), without and with SN. Three arms: "vanilla" (vanilla policy
and model), "sn" (SN policy and SN model, the paper's setting) and "sn_model" (vanilla policy, SN
model: the model's share alone). For h = 0…15 the per-sample RP-DP gradients ĝ_n = ∇_θ V̂_h (4.2) of
N start states from the data are computed with the shared estimator, with the same start states and
noise for every h and arm (common random numbers), and v(h) = tr Cov(ĝ_n) is measured.

Statistics: BCa bootstrap intervals over the N samples (``verify.stats.bootstrap_ci``, the suite's
one implementation) at ``verify.stats.LEVEL``, each statistic a function of the resampled sample
indices, so every h and arm inside one statistic resamples the same samples (paired); they are
conditional on the trained networks (one seed). The imagined
rollouts do not apply the termination rule: the claim is about unrolling f̂, and the random
policy's states are near falling, where the rule would cut most rollouts short.

Claims: "fig5.variance_growth" — the slope of log v(h) against h without SN is > 0 (recorded with
it: early vs late log-slopes and a power-law exponent, which tell exponential from polynomial
growth); "fig5.sn_lowers_variance" — v_vanilla(15) / v_SN(15) > 1, for both SN arms. Measurements
go to ``report/mujoco_variance.json`` and stdout.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from trainers.agents import Agent
from trainers.buffer import ReplayBuffer
from trainers.config import Config
from trainers.envs import make_env
from trainers.instrument import ValueExpansion, gradient_gram, variance_from_gram
from verify.stats import LEVEL, bootstrap_ci
from verify.verdict import CheckResult, require

pytestmark = pytest.mark.mujoco

ENV = "Hopper-v5"
SEED = 0
N_TRANSITIONS = 20_000
MODEL_UPDATES = 3_000
CRITIC_UPDATES = 2_000
N_SAMPLES = 256
HS = list(range(16))
REPORT = Path(__file__).resolve().parents[1] / "report" / "mujoco_variance.json"


def collect(env_id: str, n: int, seed: int) -> ReplayBuffer:
    """n real transitions of a uniform-random policy, episodes cut at the env's time limit."""
    env, max_steps = make_env(env_id)
    rng = np.random.default_rng(seed)
    buf = ReplayBuffer(env.observation_space.shape[0], env.action_space.shape[0])
    obs, _ = env.reset(seed=seed)
    t = 0
    for _ in range(n):
        a = rng.uniform(-1.0, 1.0, env.action_space.shape[0])
        nxt, r, terminated, _, _ = env.step(a)
        t += 1
        done = terminated or t >= max_steps
        buf.add(obs, a, r, nxt, terminated, done)
        obs, t = (env.reset()[0], 0) if done else (nxt, t)
    env.close()
    return buf


def trained_agent(buf: ReplayBuffer, sn: bool, critic_updates: int) -> Agent:
    """An RP-DP agent whose model (and, if asked, critic) is fitted to ``buf``; the policy is left
    at its initialisation."""
    torch.manual_seed(SEED)
    cfg = Config(algo="rp-dp", env=ENV, h=3, sn=sn, seed=SEED)
    agent = Agent(cfg, buf.data["obs"].shape[1], buf.data["act"].shape[1])
    rng = np.random.default_rng(SEED)
    for _ in range(MODEL_UPDATES):
        agent.update_model(buf, rng)
    for _ in range(critic_updates):
        agent.update_critic(buf.sample(cfg.batch_size, rng))
    return agent


def run_experiment() -> dict:
    start = time.time()
    threads = torch.get_num_threads()
    # one intra-op thread: these layers gain little from two, and two thrash on a loaded 2-core box
    torch.set_num_threads(1)
    try:
        return _run(start)
    finally:
        torch.set_num_threads(threads)


def _fit(hs, v: np.ndarray) -> np.ndarray:
    """Least-squares slope of log v against h; ``v`` is (len(hs),) or (len(hs), reps)."""
    return np.polyfit(np.asarray(hs, float), np.log(v), 1)[0]


def _resampled_variance(gram: torch.Tensor, idx: np.ndarray) -> np.ndarray:
    """tr Cov(ĝ_n) over the samples ``idx`` (shape (..., m), repeats allowed), from the Gram matrix:
    the unbiased variance of the m resampled gradients, one value per row of ``idx``."""
    idx = np.asarray(idx, dtype=np.int64)
    flat = idx.reshape(-1, idx.shape[-1])
    counts = np.zeros((flat.shape[0], gram.shape[0]))
    np.add.at(counts, (np.arange(flat.shape[0])[:, None], flat), 1.0)
    c, g = torch.from_numpy(counts).to(gram.dtype), gram
    m = idx.shape[-1]
    quad = torch.einsum("bn,nm,bm->b", c, g, c) / m
    var = (c @ torch.diagonal(g) - quad) / (m - 1)
    return var.numpy().reshape(idx.shape[:-1])


def _slope(grams: torch.Tensor, hs, idx: np.ndarray) -> np.ndarray:
    """Least-squares slope of log v(h) against h over ``hs``, v resampled at ``idx`` for every h."""
    logv = np.stack([np.log(_resampled_variance(g, idx)) for g in grams], -1)
    x = np.asarray(hs, float) - np.mean(hs)
    return (logv - logv.mean(-1, keepdims=True)) @ x / (x @ x)


def _run(start: float) -> dict:
    timings = {}
    torch.manual_seed(SEED)
    buf = collect(ENV, N_TRANSITIONS, SEED)
    timings["collect_s"] = time.time() - start
    vanilla = trained_agent(buf, sn=False, critic_updates=CRITIC_UPDATES)
    sn = trained_agent(buf, sn=True, critic_updates=0)
    timings["train_s"] = time.time() - start - timings["collect_s"]
    gen = torch.Generator().manual_seed(SEED)
    idx = torch.randperm(buf.size, generator=gen)[:N_SAMPLES]
    s0 = torch.from_numpy(buf.data["obs"][idx.numpy()])
    noise = None
    grams = {}
    # (policy, model) per arm; "sn" is the paper's setting (SN on the policy and the model),
    # "sn_model" isolates the model with the vanilla arm's policy
    arms = {"vanilla": (vanilla.policy, vanilla.model), "sn_model": (vanilla.policy, sn.model),
            "sn": (sn.policy, sn.model)}
    for name, (policy, model) in arms.items():
        vx = ValueExpansion(policy=policy, model=model, reward=model.reward, critic=vanilla.critic,
                            gamma=vanilla.cfg.gamma, action_noise_dim=vanilla.act_dim,
                            model_noise_dim=vanilla.obs_dim, alpha=vanilla.alpha, terminal=None,
                            modules=[model, vanilla.critic])
        if noise is None:
            noise = vx.sample_noise(max(HS), N_SAMPLES, gen)
        grams[name] = torch.stack([gradient_gram(vx, s0, h, noise) for h in HS])
    timings["measure_s"] = time.time() - start - timings["collect_s"] - timings["train_s"]
    point = {k: np.array([float(variance_from_gram(g)) for g in G]) for k, G in grams.items()}

    def ci(stat) -> list[float]:
        return list(bootstrap_ci(stat, (np.arange(N_SAMPLES, dtype=float),), LEVEL, seed=SEED)[1:])

    first, second = HS[1:len(HS) // 2 + 1], HS[len(HS) // 2:]
    out = {"env": ENV, "seed": SEED, "n_transitions": N_TRANSITIONS, "model_updates": MODEL_UPDATES,
           "critic_updates": CRITIC_UPDATES, "n_samples": N_SAMPLES, "hs": HS, "level": LEVEL,
           "interval": "BCa bootstrap over samples (verify.stats.bootstrap_ci)", "terminal": False,
           "n_params": {k: sum(p.numel() for p in arms[k][0].parameters()) for k in arms},
           "early_hs": first, "late_hs": second}
    for k, G in grams.items():
        v = point[k]
        pos = np.array(HS) > 0
        out[k] = {"variance": v.tolist(),
                  "variance_ci": [ci(lambda idx, axis=-1, g=g: _resampled_variance(g, idx)) for g in G],
                  "log_slope": float(_fit(HS, v)),
                  "log_slope_ci": ci(lambda idx, axis=-1, G=G: _slope(G, HS, idx)),
                  "growth_factor_per_step": float(np.exp(_fit(HS, v))),
                  # exponential growth has the same log-slope early and late; a sum of per-step
                  # terms (polynomial growth) has a falling one and a finite power-law exponent
                  "log_slope_early": float(_fit(first, v[first])),
                  "log_slope_early_ci": ci(lambda idx, axis=-1, G=G: _slope(G[first], first, idx)),
                  "log_slope_late": float(_fit(second, v[second])),
                  "log_slope_late_ci": ci(lambda idx, axis=-1, G=G: _slope(G[second], second, idx)),
                  "power_law_exponent_h>=1": float(np.polyfit(np.log(np.array(HS)[pos]), np.log(v[pos]), 1)[0])}
    for k in ("sn", "sn_model"):
        out[f"ratio_h15_vanilla_over_{k}"] = float(point["vanilla"][-1] / point[k][-1])
        out[f"ratio_h15_vanilla_over_{k}_ci"] = ci(
            lambda idx, axis=-1, k=k: _resampled_variance(grams["vanilla"][-1], idx)
            / _resampled_variance(grams[k][-1], idx))
    out["timings"] = timings
    out["runtime_s"] = time.time() - start
    return out


@pytest.fixture(scope="module")
def measured() -> dict:
    out = run_experiment()
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(json.dumps(out, indent=1))
    arms = ("vanilla", "sn_model", "sn")
    print(json.dumps({k: v for k, v in out.items() if k not in arms}, indent=1))
    for k in arms:
        print(k, {kk: vv for kk, vv in out[k].items() if kk not in ("variance", "variance_ci")})
        print(k, "v(h):", " ".join(f"{v:.3g}" for v in out[k]["variance"]))
    return out


def instance(out: dict, **extra) -> dict:
    return {"env": ENV, "seed": SEED, "n_samples": N_SAMPLES, "hs": f"{HS[0]}..{HS[-1]}", **extra}


def test_variance_grows_exponentially_without_sn(measured):
    r = CheckResult("fig5.variance_growth", "printed", instance(measured, sn=False),
                    measured=measured["vanilla"]["log_slope"], ci=tuple(measured["vanilla"]["log_slope_ci"]),
                    bound=0.0, direction="ge", level=LEVEL,
                    note=f"slope of log tr Cov(g_n) vs h; growth factor per step "
                         f"{measured['vanilla']['growth_factor_per_step']:.3g}; log-slope early "
                         f"{measured['vanilla']['log_slope_early']:.3g} vs late {measured['vanilla']['log_slope_late']:.3g}, "
                         f"power-law exponent {measured['vanilla']['power_law_exponent_h>=1']:.3g}")
    print(r.describe())
    assert r.holds, r.describe()


# Measured 2026-11-29 with the issue-15 trainer defaults (observation normalisation, SN on the
# policy's hidden layers): v_vanilla(15) / v_SN(15) = 1.27 [1.13, 1.44] for "sn" and 1.54 [1.37, 1.78]
# for "sn_model". With the earlier defaults (SN on every policy layer, raw observations) "sn_model"
# was 0.853 [0.744, 0.987], a recorded violation; docs/results.md keeps both.
@pytest.mark.parametrize("arm", ["sn", "sn_model"])
def test_spectral_norm_lowers_variance_at_h15(measured, arm):
    what = {"sn": "SN on policy and model (the paper's setting; the policies differ at initialisation)",
            "sn_model": "SN on the model only, same policy"}[arm]
    r = CheckResult("fig5.sn_lowers_variance", "printed", instance(measured, h=15, sn=arm),
                    measured=measured[f"ratio_h15_vanilla_over_{arm}"],
                    ci=tuple(measured[f"ratio_h15_vanilla_over_{arm}_ci"]), bound=1.0, direction="ge", level=LEVEL,
                    note=f"v_vanilla(15) / v_SN(15), {what}; same critic, start states and noise")
    print(r.describe())
    require(r)
