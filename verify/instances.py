"""The named toy instances every claim module measures on, and the bound parameters they imply.

One place fixes them so that a test, its negative control and the report row measure the same
MDP. ``bound_params`` maps a toy's certified Lipschitz constants (``toy_mdps``) to the symbols of
``bounds`` (docs/conventions.md: unnormalised constants): L_f is the model's joint constant L_f̂ of
Assumption A.2, L_π the policy's joint constant, and Lemma C.1's e is taken at its worst case
2 L_θ (both initial action derivatives have norm ≤ L_θ).
"""
from __future__ import annotations

from functools import lru_cache

from toy_mdps.chaotic import SineMDP
from toy_mdps.lqr import LQR

#: name -> (constructor, kwargs, what the instance is for)
SPECS = {
    "lqr-contracting": (LQR, dict(A=0.8, B=0.5, K=-0.3), "L_f, L_π < 1, closed loop contracting"),
    "lqr-lipschitz>1": (LQR, dict(A=1.5, B=1.0, K=-1.1), "L_f, L_π > 1, closed loop contracting"),
    "sine-contracting": (SineMDP.with_lipschitz, dict(L=0.8), "L_f < 1, Lyapunov exponent < 0"),
    "sine-expanding": (SineMDP.with_lipschitz, dict(L=3.0), "L_f = 3, Lyapunov exponent > 0 (chaotic)"),
}


@lru_cache(maxsize=None)
def toy(name: str, **overrides):
    """A fresh toy of the named spec (cached: treat it as read-only; pass overrides for variants)."""
    ctor, kwargs, _ = SPECS[name]
    return ctor(**{**kwargs, **overrides})


def lipschitz(problem) -> dict:
    """The toy's constants as a dict, with L_Q̂ filled in for the sine family's myopic critic
    Q̂ = r/(1 − γ) (whose gradient is the reward's over 1 − γ)."""
    lip = problem.lipschitz()
    lip = dict(lip) if isinstance(lip, dict) else dict(vars(lip))
    if "L_Qhat" not in lip:
        lip["L_Qhat"] = lip["L_r"] / (1 - problem.gamma)
    return lip


def bound_params(problem, **extra) -> dict:
    """Keyword parameters for a ``bounds.numeric.Evaluator`` on ``problem``."""
    lip = lipschitz(problem)
    p = dict(gamma=problem.gamma, L_f=lip["L_fhat"], L_pi=lip["L_pi"], L_theta=lip["L_theta"],
             L_r=lip["L_r"], L_Qhat=lip["L_Qhat"], L_Q=lip.get("L_Q", lip["L_Qhat"]),
             e=2 * lip["L_theta"], C_var=1.0, C_bias=1.0, C_conv=1.0)
    p.update(extra)
    return p


def corrected_bias_params(problem, **extra) -> dict:
    """``bound_params`` for the corrected bias chain: L_f the larger of the model's and the true
    dynamics' constants, since the chain and E12's term differentiate both (``bounds.bias``)."""
    lip = lipschitz(problem)
    return bound_params(problem, **{"L_f": max(lip["L_f"], lip["L_fhat"]), **extra})


def describe(name: str) -> dict:
    """The instance as a report.json ``instance`` entry: name, constructor arguments, constants."""
    ctor, kwargs, why = SPECS[name]
    lip = lipschitz(toy(name))
    return {"mdp": name, **kwargs, "gamma": toy(name).gamma, "L_f": round(lip["L_fhat"], 4),
            "L_pi": round(lip["L_pi"], 4), "why": why}
