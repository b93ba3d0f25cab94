"""Structural negative controls: a bound with the one change a careless derivation makes.

A check that holds says little unless it would have caught a plausible error. Each function below
takes a bound's sympy expression (``bounds``) and the index it grows in (``h`` for the
propositions, ``i`` for the per-step bounds of Appendix C) and returns the expression with one
such change, or ``None`` where the change does not apply (the expression would stay the same).
``changes(expr, n)`` lists every applicable one; a claim module evaluates each on the measurement
of its real check and records a ``verdict.Control`` (caught: the real bound holds, the changed
one is violated).
"""
from __future__ import annotations

from typing import Callable, Optional

import sympy as sp

from bounds.symbols import L_f, L_pi, eps_f, eps_v, gamma

Change = Callable[[sp.Expr, sp.Symbol], Optional[sp.Expr]]


def _changed(old: sp.Expr, new: sp.Expr) -> Optional[sp.Expr]:
    return None if new == old else new


def drop_polynomial_power(expr: sp.Expr, n: sp.Symbol) -> Optional[sp.Expr]:
    """(n+1)^k → (n+1)^{k−1}, n^k → n^{k−1} (k ≥ 2): one power of the polynomial factor lost."""
    return _changed(expr, expr.replace(
        lambda x: x.is_Pow and x.exp.is_Integer and x.exp > 1 and x.base.has(n) and x.base.is_polynomial(n),
        lambda x: x.base ** (x.exp - 1)))


def rho_as_product(expr: sp.Expr, n: sp.Symbol) -> Optional[sp.Expr]:
    """ρ = L_f √(1 + L_π²) → L_f·L_π: the one-step growth of dŝ/dθ taken along one chain-rule path."""
    return _changed(expr, expr.subs(sp.sqrt(1 + L_pi ** 2), L_pi))


def gamma_shifted(expr: sp.Expr, n: sp.Symbol) -> Optional[sp.Expr]:
    """γ^n → γ^{n+1}: the discount of the terminal critic off by one step."""
    return _changed(expr, expr.replace(lambda x: x.is_Pow and x.base == gamma and x.exp.has(n),
                                       lambda x: gamma ** (x.exp + 1)))


def drop_exponential_factor(expr: sp.Expr, n: sp.Symbol) -> Optional[sp.Expr]:
    """X^{k n} → X^{(k−1) n} for a growth rate X (L̃_f, L̃_π, ρ, ...; not γ): one factor X^n lost."""
    return _changed(expr, expr.replace(
        lambda x: x.is_Pow and x.base != gamma and not x.base.has(n) and x.exp.has(n)
        and sp.Poly(x.exp, n).degree() == 1 and sp.Poly(x.exp, n).coeff_monomial(n) > 1,
        lambda x: x.base ** (x.exp - n)))


def drop_square(expr: sp.Expr, n: sp.Symbol) -> Optional[sp.Expr]:
    """(…)² → (…) for a squared growing factor: the variance taken as a norm, not its square."""
    return _changed(expr, expr.replace(
        lambda x: x.is_Pow and x.exp == 2 and x.base.has(n) and not x.base.is_polynomial(n),
        lambda x: x.base))


def drop_linear_factor(expr: sp.Expr, n: sp.Symbol) -> Optional[sp.Expr]:
    """A factor n or (n+1) → 1 (h L_r → L_r, (i+1) L̃^i → L̃^i): a sum over n steps counted once."""
    linear = lambda a: a.has(n) and a.is_polynomial(n) and sp.degree(a, n) == 1
    return _changed(expr, expr.replace(lambda x: x.is_Mul and any(linear(a) for a in x.args),
                                       lambda x: sp.Mul(*[1 if linear(a) else a for a in x.args])))


def drop_eps_term(expr: sp.Expr, n: sp.Symbol) -> Optional[sp.Expr]:
    """ε_f → 0 and ε_v → 0 where they add to other terms: an error term forgotten."""
    return _changed(expr, expr.subs({eps_f: 0, eps_v: 0}))


def lipschitz_to_one(expr: sp.Expr, n: sp.Symbol) -> Optional[sp.Expr]:
    """L_f → 1 in the growth terms: the model's expansion forgotten (as if the model were 1-Lipschitz)."""
    return _changed(expr, expr.subs(L_f, 1))


CHANGES: dict[str, Change] = {
    "drop a power of the polynomial factor ((h+1)^k → (h+1)^{k−1})": drop_polynomial_power,
    "ρ → L_f·L_π": rho_as_product,
    "γ^h → γ^{h+1}": gamma_shifted,
    "drop one exponential factor (X^{kh} → X^{(k−1)h})": drop_exponential_factor,
    "drop the square ((…)² → (…))": drop_square,
    "drop a linear factor (h L_r → L_r, (i+1) → 1)": drop_linear_factor,
    "drop the ε terms (ε_f, ε_v → 0)": drop_eps_term,
    "L_f → 1": lipschitz_to_one,
}


def changes(expr: sp.Expr, n: sp.Symbol) -> dict[str, sp.Expr]:
    """Every change of ``CHANGES`` that applies to ``expr`` (index ``n``), by its description."""
    out = {}
    for name, fn in CHANGES.items():
        new = fn(expr, n)
        if new is not None:
            out[name] = new
    return out
