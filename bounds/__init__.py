"""bounds: the paper's Propositions 5.2, 5.4, 5.8, 5.10 and Corollary 5.12 as sympy objects.

Every function below returns a sympy expression in the symbols of ``bounds.symbols`` (h, i, N, T,
gamma, eps_f, eps_v, L_f (= L_f̂), L_pi, L_theta, L_r, L_Q, L_Qhat, kappa, beta, e, eta, delta, L, c,
b, v, DeltaJ, G and the O-constants C_var, C_bias, C_h, C_conv). Values are unnormalised
(docs/conventions.md); the audit is in docs/errata.md (E1-E11).

bounds.variance (Prop 5.4, (C.9)-(C.18)):
    c10(k), c12(k), K_hat(k)                      (C.10), (C.12), (C.13) as printed
    c10_unrolled(k), c12_unrolled(k)              intermediate lines of (C.10), (C.12)
    c10_corrected(k), c12_corrected(k), K_hat_corrected(k)   full chain rule, rate ρ = L_f√(1+L_π²)
    lemma_c1_action(k, printed=False), lemma_c1_state(k)     Lemma C.1 / (C.18)
    lemma_c1_action_corrected(k), lemma_c1_state_corrected(k)
    variance_printed(), variance_explicit(), variance_corrected(), variance_printed_corrected()
bounds.bias (Prop 5.8, (C.19)-(C.24)):
    c20(k), c21(k), c24(), c20_corrected(k), c21_corrected(k)
    bias_printed(), bias_explicit(), bias_corrected(), bias_printed_corrected()
bounds.convergence (Prop 5.2, Cor 5.12):
    c_of_eta(), prop52_rhs(), prop52_rhs_corrected(), cor512_rhs(), cor512_explicit()
bounds.hstar (Prop 5.10, (C.28)-(C.39); CLI ``python -m bounds.hstar``):
    g_of_h(), g_corrected(), g_prime_explicit(), g1_prime(), g2_prime(), g_prime_paper(),
    h1(), h2(), h2_c39(), h_star_paper(), h_star_interval(), h_star_interval_paper()
    numeric: h1_np(**p), h2_np(**p), h_star_paper_np(**p), h_star_interval_np(**p),
    h_star_interval_paper_np(**p), h_star_derivative_root(**p),
    h_star_argmin(form="explicit"|"corrected", h_max=1000, **p), hstar_report(**p)
bounds.registry: ``@bound(label, claim, form)`` registers a claim's bound where it is defined (the
    variance, bias and convergence bounds); ``of_claim(claim)`` lists them, ``kind(expr)`` reads "O" or
    "explicit" off the expression.
bounds.numeric:
    Evaluator(expr)(**params) -> LogValue(log, value): vectorised log-space evaluation generated
    by lambdify; ``log`` is the natural log (−inf where the bound is 0), ``value`` = exp(log)
    saturated at float64 max. Missing parameters take ``bounds.symbols.DEFAULTS``.
    evaluate(name, **params): the same for a name of ``EXPRESSIONS`` below (cached).
    direct(expr): plain float lambdify (signed expressions); log_form(expr); log_geom(x, n);
    lambertw_of_log(logx); subs_value(expr, **params) (30-digit sympy reference).
"""
from functools import lru_cache
from importlib import import_module

from . import bias, convergence, numeric, symbols, variance
from .registry import REGISTRY, kind, of_claim  # noqa: F401  (the claims' bounds, registered where defined)


def _hstar(name):
    # bounds.hstar is imported lazily so that ``python -m bounds.hstar`` runs it only once
    return lambda: getattr(import_module("bounds.hstar"), name)()


#: name -> constructor of a non-negative sympy expression (per-step ones in ``i``); the signed
#: Prop 5.2 / Cor 5.12 right-hand sides are evaluated with ``numeric.direct`` instead.
EXPRESSIONS = {
    "variance_printed": variance.variance_printed,
    "variance_explicit": variance.variance_explicit,
    "variance_corrected": variance.variance_corrected,
    "variance_printed_corrected": variance.variance_printed_corrected,
    "bias_printed": bias.bias_printed,
    "bias_explicit": bias.bias_explicit,
    "bias_corrected": bias.bias_corrected,
    "bias_printed_corrected": bias.bias_printed_corrected,
    "K_hat": variance.K_hat,
    "K_hat_corrected": variance.K_hat_corrected,
    "c10": variance.c10,
    "c10_unrolled": variance.c10_unrolled,
    "c12_unrolled": variance.c12_unrolled,
    "c12": variance.c12,
    "c10_corrected": variance.c10_corrected,
    "c12_corrected": variance.c12_corrected,
    "lemma_c1_action": variance.lemma_c1_action,
    "lemma_c1_state": variance.lemma_c1_state,
    "lemma_c1_action_corrected": variance.lemma_c1_action_corrected,
    "lemma_c1_state_corrected": variance.lemma_c1_state_corrected,
    "c20": bias.c20,
    "c21": bias.c21,
    "c20_corrected": bias.c20_corrected,
    "c21_corrected": bias.c21_corrected,
    "c24": bias.c24,
    "g_of_h": _hstar("g_of_h"),
    "g_corrected": _hstar("g_corrected"),
}




@lru_cache(maxsize=None)
def evaluator(name):
    """The cached ``numeric.Evaluator`` of ``EXPRESSIONS[name]``."""
    return numeric.Evaluator(EXPRESSIONS[name](), name)


def evaluate(name, **params):
    """LogValue(log, value) of ``EXPRESSIONS[name]`` at params (numpy-broadcast; defaults filled).

    Per-step objects take ``i``, e.g. ``evaluate("c10_corrected", i=np.arange(50), L_f=0.98, ...)``.
    """
    return evaluator(name)(**params)

__all__ = ["EXPRESSIONS", "bias", "convergence", "evaluate", "evaluator", "kind", "numeric", "symbols",
           "variance"]
