"""The one typed configuration of a MuJoCo training run.

Every hyperparameter lives here with its default and where that default comes from:
"paper" is Appendix B of the paper, "official" is the paper's code (agentification/RP_PGM,
``config/train.yaml`` and ``config/env/mbpo_*.yaml``), "SAC"/"DDPG" the original papers. Where the
official value is too slow for a 2-core CPU the default is smaller and the official value is named.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

ALGOS = ("rp-dp", "rp-dr", "ddpg", "rp0")
ENVS = ("Hopper-v5", "Walker2d-v5")
MODEL_LOSSES = ("h-step", "mse", "dde")
SN_POLICY = ("hidden", "all")
TERMINATIONS = ("learned", "rule", "none")
DR_NOISE = ("inferred", "acting")
# official learn_temp per env (config/env/mbpo_*.yaml): target entropy from init to final as
# (1 - step/max_steps) ** decay, max_steps the official num_train_steps
# Where the paper is silent on DDPG, the command line's defaults for it are Tianshou's MuJoCo DDPG
# (examples/mujoco/mujoco_ddpg.py: 2 hidden layers of 256, Adam 1e-3, 25,000 random steps, Gaussian
# noise 0.1, no observation normalisation; docs/trainers.md). rp0 and ddpg are the h = 0 estimator.
ALGO_DEFAULTS = {
    "ddpg": {"h": 0, "policy_layers": 3, "critic_layers": 3, "policy_hidden": 256, "critic_hidden": 256,
             "actor_lr": 1e-3, "critic_lr": 1e-3, "learning_starts": 25_000, "obs_norm": False, "ddpg_noise": 0.1},
    "rp0": {"h": 0},
}
ENTROPY_SCHEDULE = {"Hopper-v5": (0.0, -2.0, 1 / 32, 500_000), "Walker2d-v5": (-2.0, -8.0, 1 / 16, 1_000_000)}


@dataclass
class Config:
    # --- run --------------------------------------------------------------------------------
    algo: str = "rp-dp"  # rp-dp (4.2, MAAC+entropy), rp-dr (4.5, on-policy SVG(h)), ddpg, rp0 (Section 3.1)
    env: str = "Hopper-v5"  # MuJoCo task (gymnasium v5)
    h: int = 3  # model steps of (4.1): h rewards + γ^h Q; official "horizon: H" is h = H - 1 (docs/trainers.md). rp0/ddpg use 0
    sn: bool = False  # spectral norm on the policy (see sn_policy) and every model layer but the last (B.1)
    sn_policy: str = "hidden"  # policy layers with SN: hidden-to-hidden only (official) or all (paper B.1)
    obs_norm: bool = True  # running mean/std of observations, std clipped to [0.1, 10] (official normalize_obs)
    termination: str = "learned"  # imagined termination: learned classifier, differentiated (official); the env's rule (no gradient); none
    model_noise: bool = False  # RP-DP draws ξ ~ N(0, I) through a learned σ_ψ; False: deterministic f̂ (official)
    steps: int = 100_000  # environment steps
    seed: int = 0  # seeds python, numpy, torch and the environment
    out: str = "runs/default"  # run directory: config.json, run.json, metrics.csv, checkpoint.pt
    threads: int = 1  # torch intra-op threads: 1 beats 2 on 2 shared cores (OpenMP spin-waits, see bench)

    # --- networks (Appendix B.1: policy 4 layers, model 5 layers) ---------------------------
    policy_hidden: int = 256  # official 512 (model_free_hidden_dim); 256 keeps CPU throughput
    policy_layers: int = 4  # paper B.1 (Linear layers)
    critic_hidden: int = 256  # official 512 x 4 layers; SAC's 2 x 256 hidden
    critic_layers: int = 3  # Linear layers per critic head
    model_hidden: int = 200  # MBPO/MAAC model width
    model_layers: int = 5  # paper B.1 (Linear layers)
    reward_hidden: int = 200  # official learns r(s, a) with a 2-hidden-layer MLP (width 512)
    reward_layers: int = 3  # Linear layers of r̂ and the termination classifier
    log_std_bounds: tuple = (-5.0, 2.0)  # official normal_actor

    # --- optimisation -------------------------------------------------------------------------
    gamma: float = 0.99  # official discount
    batch_size: int = 256  # SAC; official step_batch_size 1024, seq_batch_size 512 (GPU)
    actor_lr: float = 3e-4  # SAC at batch 256; official 1e-4 at batch 1024
    critic_lr: float = 3e-4  # SAC at batch 256; official 1e-4 at batch 1024
    model_lr: float = 1e-3  # official dx.lr, rew_lr and done_lr
    alpha_lr: float = 3e-4  # SAC; official learn_temp.lr 1e-4
    init_alpha: float = 0.1  # official learn_temp.init_temp
    target_entropy: float | None = None  # None: official schedule (ENTROPY_SCHEDULE; ≈ 0 on Hopper up to 100k); SAC: -dim(A)
    tau: float = 0.005  # official critic_tau
    model_grad_clip: float = 1.0  # official dx.clip_grad_norm, on the dynamics only
    model_updates_per_step: int = 1  # official model_update_repeat 4 (GPU); 1 model/critic/actor update per env step
    learning_starts: int = 1000  # random actions before the first update; official num_seed_steps
    model_warmup: int = 10_000  # actor uses h = 0 (SAC) until then; official warmup_steps
    model_loss: str = "h-step"  # B.2: h-step prediction (default), "mse" single step, "dde" mse + directional-derivative error
    dde_weight: float = 1.0  # weight of the directional-derivative error (Li et al. 2021)
    dde_neighbours: int = 5  # k nearest neighbours, searched within the sampled batch
    dr_recent: int = 1000  # rp-dr: windows are drawn from the last dr_recent steps (on-policy SVG)
    dr_noise: str = "acting"  # rp-dr's ς: inferred when the step was taken, or at the current θ ("inferred": 4.5 read literally, diverges on Hopper; docs/trainers.md)
    ddpg_noise: float = 0.1  # DDPG Gaussian exploration std (TD3 paper's setting)

    # --- logging, evaluation, checkpoints ------------------------------------------------------
    log_every: int = 1000  # one metrics.csv row per log_every env steps
    eval_every: int = 5000  # official eval_freq
    eval_episodes: int = 10  # official num_eval_episodes
    checkpoint_every: int = 2000  # a run killed without warning loses at most this many steps
    grad_var_every: int = 5000  # per-sample gradient variance of the RP-DP estimator (Figs. 2, 5); 0: never
    grad_var_samples: int = 64  # start states per gradient-variance measurement
    grad_var_hs: tuple = ()  # further h measured at the same iterate (gradvar.csv), e.g. (0, 3, 5, 10, 15)
    landscape_every: int = 0  # loss landscape of the h-step MVE objective (Fig. 3); 0: never
    landscape_samples: int = 64  # start states per landscape point
    landscape_grid: int = 21  # points per axis of the landscape grid
    landscape_span: float = 1.0  # half-width of the landscape, in units of the random directions
    theory_every: int = 0  # Section 5's eps_f, Lipschitz constants, gradient paths with the simulator's Jacobians (trainers.theory, theory.csv); 0: never
    tensorboard: bool = True  # write events only if tensorboard is installed

    def validate(self) -> None:
        """Raise ValueError with a one-line reason for an impossible configuration."""
        if self.algo not in ALGOS:
            raise ValueError(f"unknown algo {self.algo!r}; choose from {', '.join(ALGOS)}")
        if self.env not in ENVS:
            raise ValueError(f"unknown env {self.env!r}; choose from {', '.join(ENVS)}")
        if self.h < 0:
            raise ValueError(f"h must be >= 0, got {self.h}")
        if self.steps <= 0:
            raise ValueError(f"steps must be > 0, got {self.steps}")
        if self.sn_policy not in SN_POLICY:
            raise ValueError(f"unknown sn_policy {self.sn_policy!r}; choose from {', '.join(SN_POLICY)}")
        if self.termination not in TERMINATIONS:
            raise ValueError(f"unknown termination {self.termination!r}; choose from {', '.join(TERMINATIONS)}")
        if self.dr_noise not in DR_NOISE:
            raise ValueError(f"unknown dr_noise {self.dr_noise!r}; choose from {', '.join(DR_NOISE)}")
        if self.dr_noise != "acting" and self.algo != "rp-dr":
            raise ValueError(f"dr_noise is RP-DR's; {self.algo} draws fresh noise")
        if self.model_loss not in MODEL_LOSSES:
            raise ValueError(f"unknown model_loss {self.model_loss!r}; choose from {', '.join(MODEL_LOSSES)}")
        for name in ("log_every", "eval_every", "checkpoint_every", "batch_size", "threads", "eval_episodes",
                     "init_alpha"):  # α enters as log α
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        for name in ("grad_var_every", "landscape_every", "theory_every"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.theory_every and not self.uses_model:
            raise ValueError(f"theory_every needs a learned model; {self.algo} with h = {self.h} has none")
        if any(k < 0 for k in self.grad_var_hs):
            raise ValueError(f"grad_var_hs must be >= 0, got {self.grad_var_hs}")
        if self.algo in ("ddpg", "rp0") and set(self.grad_var_hs) - {0}:
            raise ValueError(f"{self.algo} has no model: grad_var_hs may only hold 0, got {self.grad_var_hs}")
        if not 0 <= self.seed < 2**32:
            raise ValueError(f"seed must lie in [0, 2**32), got {self.seed}")
        if not 0.0 < self.gamma < 1.0:
            raise ValueError(f"gamma must lie in (0, 1), got {self.gamma}")
        if self.grad_var_samples < 2:
            raise ValueError(f"grad_var_samples must be >= 2 (a variance), got {self.grad_var_samples}")
        if self.landscape_samples < 1:
            raise ValueError(f"landscape_samples must be >= 1, got {self.landscape_samples}")
        if self.learning_starts < self.h + 1:  # a model window of h + 1 steps must fit in the buffer
            raise ValueError(f"learning_starts must be >= h + 1 = {self.h + 1}, got {self.learning_starts}")
        if self.algo == "rp-dr" and self.dr_recent < self.h + 1:  # its real windows lie in the last dr_recent steps
            raise ValueError(f"dr_recent must be >= h + 1 = {self.h + 1} for rp-dr, got {self.dr_recent}")
        if self.algo in ("ddpg", "rp0") and self.h != 0:
            raise ValueError(f"{self.algo} is the h = 0 estimator; got h = {self.h}")

    @classmethod
    def for_algo(cls, **given) -> Config:
        """The command line's configuration: ``ALGO_DEFAULTS`` of the algorithm, then ``given``."""
        return cls(**{**ALGO_DEFAULTS.get(given.get("algo", cls.algo), {}), **given})

    @classmethod
    def tiny(cls, **overrides) -> Config:
        """Small networks and batches, early updates and h-step unrolls: smoke tests and debugging."""
        small = {"policy_hidden": 16, "critic_hidden": 16, "model_hidden": 16, "reward_hidden": 16, "batch_size": 16,
                 "learning_starts": 100, "model_warmup": 150, "dr_recent": 200, "log_every": 50, "eval_every": 100,
                 "eval_episodes": 1, "checkpoint_every": 100, "grad_var_every": 100, "grad_var_samples": 8,
                 "tensorboard": False}
        return cls(**{**small, **overrides})

    def target_entropy_at(self, step: int) -> float:
        """SAC's entropy target at env step ``step``: ``target_entropy`` if set, else the official
        schedule (temp.py: target = final + (init − final)·(1 − step/max_steps)^decay)."""
        if self.target_entropy is not None:
            return self.target_entropy
        init, final, decay, max_steps = ENTROPY_SCHEDULE[self.env]
        return final + (init - final) * max(0.0, 1.0 - step / max_steps) ** decay

    @property
    def uses_model(self) -> bool:
        return self.algo in ("rp-dp", "rp-dr") and self.h > 0

    @classmethod
    def field_docs(cls) -> dict[str, str]:
        """Each field's comment in this file (what ``python -m trainers.train --help`` shows)."""
        import inspect
        import io
        import tokenize

        docs, names = {}, {f.name for f in dataclasses.fields(cls)}
        lines = inspect.getsource(cls).splitlines(keepends=True)
        for tok in tokenize.generate_tokens(io.StringIO("".join(lines)).readline):
            if tok.type == tokenize.COMMENT:
                name = lines[tok.start[0] - 1].split(":")[0].strip()
                if name in names and tok.start[1] > 0:
                    docs[name] = tok.string.lstrip("# ").strip()
        return docs

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> Config:
        d = dict(d)
        d["log_std_bounds"] = tuple(d["log_std_bounds"])
        d["grad_var_hs"] = tuple(d.get("grad_var_hs", ()))
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"config has unknown fields {', '.join(sorted(unknown))}")
        return cls(**d)
