"""The claims' bounds, each registered where it is defined: ``@bound(label, claim, form)``.

A registered bound is one sympy constructor with the name the report gives it (``label``, e.g.
"(C.24) corrected"), the paper's claim it bounds ("prop5.8") and its form ("printed", "explicit",
"corrected"); its kind ("O" with a hidden constant, else "explicit") is read off the expression.
``verify/`` takes a claim's bounds from here (``of_claim``) instead of listing them again.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import sympy as sp

from . import symbols

FORMS = ("printed", "explicit", "corrected")


def kind(expr) -> str:
    """"O" for an expression with a hidden O(·) constant (``symbols.O_CONSTANTS``), else "explicit"."""
    return "O" if sp.sympify(expr).free_symbols & symbols.O_CONSTANTS else "explicit"


@dataclass(frozen=True)
class Bound:
    name: str  # the constructor's name, as in ``bounds.EXPRESSIONS``
    label: str
    claim: str
    form: str
    fn: Callable[[], sp.Expr]

    @property
    def kind(self) -> str:
        return kind(self.fn())


REGISTRY: dict[str, Bound] = {}


def bound(label: str, claim: str, form: str):
    """Register the decorated constructor as a bound of ``claim`` in ``form``; a second bound with the
    same name, or the same label for the same claim, is an error."""
    if form not in FORMS:
        raise ValueError(f"form must be one of {FORMS}, got {form!r}")

    def deco(fn):
        if fn.__name__ in REGISTRY or label in of_claim(claim):
            raise ValueError(f"bound {fn.__name__!r} / {label!r} of {claim} is registered already")
        REGISTRY[fn.__name__] = Bound(fn.__name__, label, claim, form, fn)
        return fn
    return deco


def of_claim(claim: str) -> dict[str, Bound]:
    """The bounds of ``claim`` by label, in the order they are defined."""
    return {b.label: b for b in REGISTRY.values() if b.claim == claim}
