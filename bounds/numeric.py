"""Numeric evaluators generated from the sympy expressions: log-space lambdify, vectorised.

``log_form(expr)`` rewrites a non-negative expression into a sympy expression for its natural
log: products become sums, sums of non-negative terms become log-sum-exp (``LogAddExp``),
``x**y`` becomes ``y*log x`` (``ScaleLog``: 0·log 0 = 0), ``Max`` commutes with log and
``GeomSum`` becomes ``LogGeom``. Only sums with a negative term (small polynomials such as
(k − 1)² + 1, below 1e7 for k ≤ 1000) are evaluated directly. The result is lambdified with numpy.

``Evaluator(expr)(**params)`` returns a ``LogValue(log, value)`` of float64 arrays broadcast over
the inputs: ``log`` is the natural log of the bound (−inf where the bound is exactly 0, never nan
for finite admissible inputs), ``value`` is exp(log) saturated at ``FLOAT_MAX`` (never inf).
"""
from collections import namedtuple
from functools import reduce

import numpy as np
import sympy as sp
from scipy.special import lambertw

from .symbols import BY_NAME, DEFAULTS, GeomSum

FLOAT_MAX = np.finfo(np.float64).max
LOG_FLOAT_MAX = float(np.log(FLOAT_MAX))

LogValue = namedtuple("LogValue", ["log", "value"])


class LogAddExp(sp.Function):
    """log Σ_k exp(x_k), n-ary."""


class LogMax(sp.Function):
    """Elementwise maximum (numpy.maximum), n-ary; also used for Max outside log space."""


class ScaleLog(sp.Function):
    """y·x with 0·(−inf) := 0, i.e. log(b**y) for y = 0 and b = 0."""


class LogGeom(sp.Function):
    """log Σ_{j<n} exp(j·x) = log GeomSum(e^x, n)."""


def _logaddexp(*xs):
    return reduce(np.logaddexp, xs)


def _logmax(*xs):
    return reduce(np.maximum, xs)


def _scalelog(y, x):
    return np.where(y == 0, 0.0, y * x)


def log_geom(x, n):
    """log Σ_{j<n} e^{j x} without cancellation; −inf for n ≤ 0 (empty sum)."""
    x, n = np.broadcast_arrays(np.asarray(x, dtype=float), np.asarray(n, dtype=float))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        pos = n * x + np.log(-np.expm1(-n * x)) - np.log(np.expm1(x))  # ρ > 1
        neg = np.log(-np.expm1(n * x)) - np.log(-np.expm1(x))  # ρ < 1
        zero_rho = np.zeros_like(x)  # ρ = 0: the sum is 1 for n ≥ 1
        out = np.where(x > 0, pos, np.where(x < 0, neg, np.log(n)))
        out = np.where(np.isneginf(x), zero_rho, out)
    return np.where(n <= 0, -np.inf, out)


def _geom(rho, n):
    with np.errstate(divide="ignore"):
        return np.exp(log_geom(np.log(rho), n))


_MODULES = [
    {
        "LogAddExp": _logaddexp,
        "LogMax": _logmax,
        "ScaleLog": _scalelog,
        "LogGeom": log_geom,
        "GeomSum": _geom,
        "LambertW": lambda x: np.real(lambertw(x)),
    },
    "numpy",
]


def _max_to_logmax(expr):
    return expr.replace(lambda x: isinstance(x, (sp.Max,)), lambda x: LogMax(*x.args))


def _signed_sum(expr):
    """An Add with a negative term (e.g. k − 1): evaluated directly, then logged."""
    return isinstance(expr, sp.Add) and any(t.could_extract_minus_sign() for t in expr.args)


def log_form(expr):
    """Return a sympy expression for log(expr), for expr ≥ 0 built from +, ×, pow, Max, GeomSum.

    Sums of non-negative terms become LogAddExp; a sum with a negative term (only small
    polynomials such as (k − 1)² + 1 occur) is evaluated directly; an even power of such a sum
    uses log|·|; other functions (log(1/γ)) are evaluated directly.
    """
    if expr.is_Number:
        if expr.is_zero:
            return sp.S.NegativeInfinity
        if expr.is_negative:
            raise ValueError(f"log_form needs a non-negative expression, got {expr}")
        return sp.log(expr)
    if expr.is_Symbol or _signed_sum(expr):
        return sp.log(expr)
    if isinstance(expr, sp.Max) and any(_signed_sum(a) for a in expr.args):  # e.g. max(1 − γρ, 0)
        return sp.log(expr)
    if isinstance(expr, sp.Mul):
        return sp.Add(*(log_form(a) for a in expr.args))
    if isinstance(expr, sp.Add):
        return LogAddExp(*(log_form(a) for a in expr.args))
    if isinstance(expr, sp.Pow):
        if _signed_sum(expr.base) and expr.exp.is_even:
            return expr.exp * sp.log(sp.Abs(expr.base))
        if expr.exp.is_Number:
            return expr.exp * log_form(expr.base)
        return ScaleLog(expr.exp, log_form(expr.base))
    if isinstance(expr, sp.exp):
        return expr.args[0]
    if isinstance(expr, sp.Max):
        return LogMax(*(log_form(a) for a in expr.args))
    if isinstance(expr, GeomSum):
        return LogGeom(log_form(expr.args[0]), expr.args[1])
    if isinstance(expr, sp.Function):
        return sp.log(expr)
    raise ValueError(f"log_form cannot handle {type(expr).__name__}: {expr}")


class Evaluator:
    """Vectorised log-space evaluator generated from one sympy expression (see module docstring)."""

    def __init__(self, expr, name=""):
        self.expr = sp.sympify(expr)
        self.name = name
        self.symbols = sorted(self.expr.free_symbols, key=lambda s: s.name)
        self._log = sp.lambdify(self.symbols, _max_to_logmax(log_form(self.expr)), _MODULES,
                                cse=True)

    def params(self, params):
        """Fill defaults and broadcast: returns the argument arrays in symbol order."""
        args = []
        for s in self.symbols:
            if s.name in params:
                args.append(params[s.name])
            elif s.name in DEFAULTS:
                args.append(DEFAULTS[s.name])
            else:
                raise TypeError(f"{self.name or self.expr}: missing parameter {s.name!r}")
        return np.broadcast_arrays(*(np.asarray(a, dtype=float) for a in args))

    def log(self, **params):
        """Natural log of the expression (float64 array; −inf where it is 0)."""
        args = self.params(params)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            out = self._log(*args)
        return np.array(np.broadcast_to(np.asarray(out, dtype=float), args[0].shape if args else ()))

    def __call__(self, **params):
        lg = self.log(**params)
        with np.errstate(over="ignore"):
            val = np.where(lg >= LOG_FLOAT_MAX, FLOAT_MAX, np.exp(np.minimum(lg, LOG_FLOAT_MAX)))
        return LogValue(lg, val)


def direct(expr):
    """Plain float64 lambdify of a (possibly signed) expression, with the same argument handling."""
    expr = sp.sympify(expr)
    symbols = sorted(expr.free_symbols, key=lambda s: s.name)
    fn = sp.lambdify(symbols, _max_to_logmax(expr), _MODULES, cse=True)

    def call(**params):
        args = [params.get(s.name, DEFAULTS.get(s.name)) for s in symbols]
        missing = [s.name for s, a in zip(symbols, args) if a is None]
        if missing:
            raise TypeError(f"missing parameters {missing}")
        args = np.broadcast_arrays(*(np.asarray(a, dtype=float) for a in args))
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            out = fn(*args)
        return np.array(np.broadcast_to(np.asarray(out, dtype=float), args[0].shape if args else ()))

    call.symbols = symbols
    return call


def lambertw_of_log(logx):
    """W(e^{logx}) on the principal branch, for logx up to float max (W's argument never formed)."""
    logx = np.asarray(logx, dtype=float)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        small = np.real(lambertw(np.exp(np.minimum(logx, 500.0))))
        # Newton on w + log w = logx, from the asymptotic start logx − log logx.
        w = np.maximum(logx - np.log(np.maximum(logx, 1.0)), 1.0)
        for _ in range(8):
            w = w - (w + np.log(w) - logx) / (1.0 + 1.0 / w)
    return np.where(logx <= 500.0, small, w)


def subs_value(expr, **params):
    """Reference evaluation with sympy/mpmath at 30 digits (slow; for tests and checks)."""
    full = {**DEFAULTS, **params}
    sub = {BY_NAME[k]: sp.Float(val, 30) if not float(val).is_integer() else sp.Integer(int(val))
           for k, val in full.items() if k in BY_NAME}
    return sp.sympify(expr).subs(sub).doit().evalf(30)
