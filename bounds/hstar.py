"""Proposition 5.10 (optimal model expansion step) and proof C.4, (C.28)-(C.39); CLI.

``python -m bounds.hstar --eps_f F --eps_v V [--gamma G] [--N N] [constants…] [--json]``
prints one line with the recommended integer h and its basis (``recommendation``), then a table; or
with ``--json`` one JSON object (keys in ``hstar_report``). W is the principal branch of Lambert W.
Bad input exits 2 with one line on stderr.
"""
import argparse
import json
import math
import sys
from functools import lru_cache

import numpy as np
import sympy as sp
from scipy.optimize import brentq

from . import numeric as nm
from .bias import bias_corrected, bias_explicit
from .convergence import c_of_eta
from .symbols import C_h, DEFAULTS, N, delta, eps_f, eps_v, eta, gamma, h
from .variance import variance_corrected, variance_explicit

W = sp.LambertW
log_inv_gamma = sp.log(1 / gamma)


def g_of_h():
    """Eq. (C.28) of the paper: g(h) = c (δ b_t + η/2 v_t) + b_t² + v_t, b_t = (C.24), v_t = (C.16)/N,
    c = (η − Lη²)^{-1}. Note δ, where Proposition 5.2 has 2δ (erratum E10)."""
    b_, v_ = bias_explicit(), variance_explicit()
    return c_of_eta() * (delta * b_ + eta / 2 * v_) + b_**2 + v_


def g_corrected():
    """Corrected (C.28): c (2δ b + η/2 v) + b² + v on the corrected bias and variance bounds."""
    b_, v_ = bias_corrected(), variance_corrected()
    return c_of_eta() * (2 * delta * b_ + eta / 2 * v_) + b_**2 + v_


def g_prime_explicit():
    """∂g/∂h of (C.28) built from (C.16), (C.24): what (C.29) claims to abbreviate (erratum E6)."""
    return sp.diff(g_of_h(), h)


def g1_prime():
    """Eq. (C.30) of the paper, first part: ∂g_1/∂h := (h^7 + h^6 γ^{2h} log γ)/N."""
    return (h**7 + h**6 * gamma**(2 * h) * sp.log(gamma)) / N


def g2_prime():
    """Eq. (C.30) of the paper, second part: ∂g_2/∂h := h^7 ε_f² + h^4 γ^{2h} log γ ε_v²."""
    return h**7 * eps_f**2 + h**4 * gamma**(2 * h) * sp.log(gamma) * eps_v**2


def g_prime_paper():
    """Eq. (C.29) of the paper with its O(·) constant C_h: C_h (∂g_1/∂h + ∂g_2/∂h)."""
    return C_h * (g1_prime() + g2_prime())


def h1():
    """Eq. (C.38) of the paper: the root of ∂g_1/∂h, W(2(log γ)²) / (2 log(1/γ)); free of N."""
    return W(2 * sp.log(gamma) ** 2) / (2 * log_inv_gamma)


def _h2_arg(p=3):
    """The argument of W in (C.37) (p = 3) or (C.39) as printed (p = 5), with log(1/γ) > 0."""
    q = sp.Rational(2, p)
    return q * log_inv_gamma ** (sp.Rational(p + 1, p)) * (eps_v / eps_f) ** q


def h2():
    """Eq. (C.37) of the paper: 3/(2 log(1/γ)) · W((2/3) (log(1/γ))^{4/3} (ε_v/ε_f)^{2/3})."""
    return sp.Rational(3, 2) / log_inv_gamma * W(_h2_arg(3))


def h2_c39():
    """The second end point of (C.39) as printed: 5/(2 log(1/γ)) · W((2/5)(log γ)^{6/5}(ε_v/ε_f)^{2/5}),
    with (log γ)^{6/5} read as the real |log γ|^{6/5} (erratum E7)."""
    return sp.Rational(5, 2) / log_inv_gamma * W(_h2_arg(5))


def h_star_paper():
    """Proposition 5.10 as printed, inside O(·) (constant C_h):
    W(2(log γ)²)/N + W((2/3)(log γ)^{4/3}(ε_v/ε_f)^{2/3}), (log γ)^{4/3} read as the real |log γ|^{4/3}."""
    return C_h * (W(2 * sp.log(gamma) ** 2) / N
                  + W(sp.Rational(2, 3) * (sp.log(gamma) ** 4) ** sp.Rational(1, 3)
                      * (eps_v / eps_f) ** sp.Rational(2, 3)))


def h_star_interval():
    """Corrected (C.39): [min(h1, h2), max(h1, h2)] with (C.37), (C.38) (erratum E7)."""
    return (sp.Min(h1(), h2()), sp.Max(h1(), h2()))


def h_star_interval_paper():
    """Eq. (C.39) of the paper as printed: [min, max] of (C.38) and the 5/2, 2/5, 6/5 expression."""
    return (sp.Min(h1(), h2_c39()), sp.Max(h1(), h2_c39()))


# --- numeric ---------------------------------------------------------------------------------------

def _w_of(arg_expr):
    """Numeric W(arg) from the sympy arg, through log(arg) (arg may exceed float max).

    log γ is renamed to −ℓ with ℓ = log(1/γ) > 0 so that expanding the log stays real.
    """
    ell = sp.Symbol("ell", positive=True)
    named = arg_expr.subs({sp.log(1 / gamma): ell, sp.log(gamma): -ell})
    expanded = sp.expand_log(sp.log(named), force=True)
    log_arg = nm.direct(expanded.subs(ell, log_inv_gamma))
    return lambda **p: nm.lambertw_of_log(log_arg(**p))


_pref1 = nm.direct(1 / (2 * log_inv_gamma))
_pref2 = nm.direct(sp.Rational(3, 2) / log_inv_gamma)
_pref5 = nm.direct(sp.Rational(5, 2) / log_inv_gamma)
_w1 = _w_of(2 * sp.log(gamma) ** 2)
_w2 = _w_of(_h2_arg(3))
_w5 = _w_of(_h2_arg(5))
_w_paper2 = _w_of(sp.Rational(2, 3) * (sp.log(gamma) ** 4) ** sp.Rational(1, 3)
                  * (eps_v / eps_f) ** sp.Rational(2, 3))


def h1_np(**p):
    """(C.38) numerically."""
    return _pref1(**p) * _w1(**p)


def h2_np(**p):
    """(C.37) numerically (overflow-safe in ε_v/ε_f)."""
    return _pref2(**p) * _w2(**p)


def h_star_paper_np(**p):
    """Proposition 5.10's O(·) argument, numerically (C_h from p or 1)."""
    n_ = np.asarray(p.get("N", DEFAULTS["N"]), dtype=float)
    return p.get("C_h", DEFAULTS["C_h"]) * (_w1(**p) / n_ + _w_paper2(**p))


def h_star_interval_np(**p):
    """Corrected (C.39) numerically: (lo, hi)."""
    a, b_ = h1_np(**p), h2_np(**p)
    return np.minimum(a, b_), np.maximum(a, b_)


def h_star_interval_paper_np(**p):
    """(C.39) as printed, numerically: (lo, hi)."""
    a, b_ = h1_np(**p), _pref5(**p) * _w5(**p)
    return np.minimum(a, b_), np.maximum(a, b_)


def _split_signs(expr):
    """(P, Q) with expr = P − Q and P, Q ≥ 0 for 0 < γ < 1: the log γ terms form −Q."""
    ell = sp.Symbol("ell", positive=True)
    terms = sp.Add.make_args(sp.expand(expr.subs(sp.log(gamma), -ell)))
    pos = sp.Add(*(t for t in terms if not t.could_extract_minus_sign()))
    neg = -sp.Add(*(t for t in terms if t.could_extract_minus_sign()))
    return pos.subs(ell, log_inv_gamma), neg.subs(ell, log_inv_gamma)


_gp_pos, _gp_neg = (nm.Evaluator(x) for x in _split_signs(g1_prime() + g2_prime()))


def _gp_sign_log(**p):
    """log P − log Q for (C.29)-(C.30) = P − Q: same sign as (C.29), overflow-free."""
    return _gp_pos.log(**p) - _gp_neg.log(**p)


def h_star_derivative_root(**p):
    """The smallest positive root of (C.29)-(C.30) (C_h = 1 does not move it), by brentq.

    (C.29) is < 0 near 0 (the h^4 log γ ε_v² term) and > 0 for large h (h^7/N), so a root exists;
    the first sign change on a log grid is bracketed and refined on log P − log Q.
    """
    grid = np.geomspace(1e-12, 1e12, 6000)
    vals = _gp_sign_log(**{**p, "h": grid})
    idx = np.flatnonzero((vals[:-1] < 0) & (vals[1:] >= 0))
    if idx.size == 0:
        return float("nan")
    f = lambda x: float(_gp_sign_log(**{**p, "h": x}))  # noqa: E731
    return brentq(f, grid[idx[0]], grid[idx[0] + 1], xtol=1e-14, rtol=1e-12)


_g_eval = {"explicit": None, "corrected": None}


def g_evaluator(form="explicit"):
    """Log-space evaluator of g(h): (C.28) (``explicit``) or its corrected form."""
    if _g_eval[form] is None:
        _g_eval[form] = nm.Evaluator(g_of_h() if form == "explicit" else g_corrected(), "g_" + form)
    return _g_eval[form]


def h_star_argmin(form="explicit", h_max=1000, **p):
    """The integer h in [0, h_max] minimising g(h) of (C.28) (or the corrected g); smallest on ties;
    None where g is +∞ at every h (the corrected bias bound where γρ ≥ 1, ``bounds.bias.sup_grad_V``)."""
    log_g = g_evaluator(form).log(**{**p, "h": np.arange(h_max + 1, dtype=float)})
    return None if np.all(np.isposinf(log_g)) else int(np.argmin(log_g))


@lru_cache(maxsize=None)
def _bound_evaluator(name):
    return nm.Evaluator({"b": bias_explicit, "v": variance_explicit}[name](), name + "_explicit")


def bounds_smallest_at_0(h_max=1000, **p):
    """Whether (C.24) and (C.16) are each smallest at h = 0 over [0, h_max]. Then g of (C.28), increasing
    in b and v (c > 0), is minimised at h = 0 whatever η, δ, L and N: b involves none of them, v only N,
    as a factor 1/N (E6)."""
    hs = np.arange(h_max + 1, dtype=float)
    return all(int(np.argmin(_bound_evaluator(x).log(**{**p, "h": hs}))) == 0 for x in ("b", "v"))


#: where the h that ``recommendation`` gives can be measured against the truth (erratum E6)
MEASURED = "measure h* on an LQR instance with python -m verify.hstar"


def recommendation(h_max=1000, **p):
    """(h, basis): the integer argmin over [0, h_max] of g(h) of (C.28) from (C.16), (C.24), the objective
    Proposition 5.10 minimises, and one sentence on what it is worth. The closed forms (C.37)-(C.39), and
    Prop 5.10's drawn from them, solve (C.29)-(C.30), which is not ∂g/∂h (E6): none is recommended."""
    h_rec = h_star_argmin("explicit", h_max, **p)
    basis = f"integer argmin over h = 0..{h_max} of g(h) of (C.28) built from the bounds (C.16), (C.24)"
    if h_rec == 0 and bounds_smallest_at_0(h_max, **p):
        basis += ("; worth nothing as a choice: both bounds are smallest at h = 0 here, so this g is minimised "
                  "at h = 0 whatever η, δ, L and N, a property of the bounds, not of your problem (erratum E6)")
    else:
        basis += ("; worth little: it minimises bounds, not g itself, and on the LQR ladder of "
                  "verify/section5/prop5_10.py it is 0 where the exact argmin is 4 (erratum E6)")
    if h_rec == h_max:
        basis += f"; it lies at the edge h_max = {h_max} (raise --h_max)"
    return h_rec, f"{basis}; Prop 5.10's closed forms solve (C.29)-(C.30), not ∂g/∂h = 0; {MEASURED}"


# --- CLI -------------------------------------------------------------------------------------------

CONSTANT_HELP = {
    "L_f": "Lipschitz constant of the learned model f̂",
    "L_pi": "Lipschitz constant of the policy in (s, ς)",
    "L_theta": "bound on ‖∂π/∂θ‖",
    "L_r": "Lipschitz constant of the reward",
    "L_Q": "Lipschitz constant of the true Q (unnormalised)",
    "L_Qhat": "Lipschitz constant of the critic Q̂ (unnormalised)",
    "kappa": "regularity constant κ of (5.2) (κ ≥ 1)",
    "beta": "mixing weight β of μ = βν + (1−β)ζ, in [0, 1]",
    "e": "Lemma C.1's e = sup E‖dâ_0/dθ − dā_0/dθ‖ (0 for deterministic starts)",
    "eta": "learning rate η (needs 0 < η < 1/L so that c > 0)",
    "delta": "radius δ of the parameter set Θ",
    "L": "smoothness constant L of J (Assumption 5.1)",
}


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        _fail(message)


def _fail(message):
    sys.stderr.write(f"bounds.hstar: error: {message}\n")
    raise SystemExit(2)


def _finite_float(name):
    def conv(text):
        try:
            x = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"--{name} must be a number, got {text!r}") from None
        if not math.isfinite(x):
            raise argparse.ArgumentTypeError(f"--{name} must be finite, got {text!r}")
        return x
    return conv


def _int_ge1(text):
    try:
        x = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--N must be an integer ≥ 1, got {text!r}") from None
    if not math.isfinite(x) or x < 1 or not x.is_integer():
        raise argparse.ArgumentTypeError(f"--N must be an integer ≥ 1, got {text!r}")
    return int(x)


def build_parser():
    """The argparse parser; defaults are shown in --help and echoed in the JSON ``inputs``."""
    ap = _Parser(prog="python -m bounds.hstar",
                 description="Optimal model expansion step h* of Proposition 5.10 (proof C.4).",
                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--eps_f", type=_finite_float("eps_f"), required=True,
                    help="model derivative error ε_f (4.7), > 0")
    ap.add_argument("--eps_v", type=_finite_float("eps_v"), required=True,
                    help="critic derivative error ε_v (4.8), > 0")
    ap.add_argument("--gamma", type=_finite_float("gamma"), default=DEFAULTS["gamma"],
                    help="discount factor, in (0, 1)")
    ap.add_argument("--N", type=_int_ge1, default=1, help="batch size, integer ≥ 1")
    for name, text in CONSTANT_HELP.items():
        ap.add_argument(f"--{name}", type=_finite_float(name), default=DEFAULTS[name], help=text)
    ap.add_argument("--h_max", type=int, default=1000, help="largest h searched by h_star_argmin")
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    return ap


def _validate(a):
    if a.eps_f <= 0 or a.eps_v <= 0:
        _fail(f"--eps_f and --eps_v must be > 0, got {a.eps_f}, {a.eps_v}")
    if not 0 < a.gamma < 1:
        _fail(f"--gamma must lie in (0, 1), got {a.gamma}")
    for name in ("L_f", "L_pi", "L_theta", "L_r", "L_Q", "L_Qhat", "e", "L"):
        if getattr(a, name) < 0:
            _fail(f"--{name} must be ≥ 0, got {getattr(a, name)}")
    if a.kappa < 1:
        _fail(f"--kappa must be ≥ 1 (Jensen), got {a.kappa}")
    if not 0 <= a.beta <= 1:
        _fail(f"--beta must lie in [0, 1], got {a.beta}")
    if a.delta <= 0:
        _fail(f"--delta must be > 0, got {a.delta}")
    if not 0 < a.eta or a.L * a.eta >= 1:
        _fail(f"--eta must satisfy 0 < eta < 1/L, got eta={a.eta}, L={a.L}")
    if not 0 <= a.h_max <= 100000:
        _fail(f"--h_max must lie in [0, 100000], got {a.h_max}")


def hstar_report(**p):
    """All Proposition 5.10 quantities at the inputs p (eps_f, eps_v, gamma, N and constants)."""
    lo, hi = h_star_interval_np(**p)
    plo, phi = h_star_interval_paper_np(**p)
    h_max = p.pop("h_max", 1000)
    h_rec, basis = recommendation(h_max, **p)
    return {
        "recommended_h": h_rec,
        "basis": basis,
        "h_star_paper": float(h_star_paper_np(**p)),
        "h1": float(h1_np(**p)),
        "h2": float(h2_np(**p)),
        "h_star_interval": [float(lo), float(hi)],
        "h_star_interval_paper": [float(plo), float(phi)],
        "h_star_derivative_root": float(h_star_derivative_root(**p)),
        "h_star_argmin": h_star_argmin("explicit", h_max, **p),
        "h_star_argmin_corrected": h_star_argmin("corrected", h_max, **p),
        "prefactor_h1": float(_pref1(**p)),
        "prefactor_h2": float(_pref2(**p)),
        "c": 1.0 / (p["eta"] - p["L"] * p["eta"] ** 2),
        "inputs": {**p, "h_max": h_max},
        "notes": {
            "h_star_paper": "Prop 5.10 inside O(·), C_h = 1, (log γ)^{4/3} read as |log γ|^{4/3}",
            "h_star_interval": "[min(h1,h2), max(h1,h2)]; (C.39) printed uses 5/2, 2/5, 6/5",
            "h_star_derivative_root": "smallest positive root of (C.29)-(C.30)",
            "h_star_argmin": "integer argmin over [0, h_max] of (C.28) from (C.16), (C.24)",
            "h_star_argmin_corrected": "same for the corrected g (2δ; corrected bias/variance)",
        },
    }


def main(argv=None):
    args = build_parser().parse_args(argv)
    _validate(args)
    p = {k: v_ for k, v_ in vars(args).items() if k != "json"}
    rep = hstar_report(**p)
    if args.json:
        print(json.dumps(rep))
        return 0
    print(f"recommended h = {rep['recommended_h']}: {rep['basis']}")
    rows = [(k, rep[k]) for k in ("h_star_paper", "h1", "h2", "h_star_interval",
                                  "h_star_interval_paper", "h_star_derivative_root",
                                  "h_star_argmin", "h_star_argmin_corrected",
                                  "prefactor_h1", "prefactor_h2", "c")]
    for k, val in rows:
        txt = (f"[{val[0]:.6g}, {val[1]:.6g}]" if isinstance(val, list) else
               "none (g = +inf at every h: gamma * rho >= 1)" if val is None else f"{val:.6g}")
        print(f"{k:<24} {txt}")
    print("inputs: " + ", ".join(f"{k}={val}" for k, val in rep["inputs"].items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
