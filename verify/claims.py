"""Imports every claim module so that its report section is registered (``verify.registry``), and
``PAPER``: the claims of the paper the report's one-page answer opens with.

A new claim module registers itself with ``@section``/``@figure``/``@controls``; a module with its
own entry points (the proof steps of Appendix C) is registered here.
"""
from dataclasses import dataclass

from verify.registry import controls, figure, section
from verify.section5 import prop5_4, prop5_8  # noqa: F401  (register on import)


@dataclass(frozen=True)
class PaperClaim:
    """A statement of the paper, in one line, with the report claims that test it (``CheckResult.claim``)
    and the errata of docs/errata.md that concern it."""

    name: str
    statement: str
    checks: tuple[str, ...]
    errata: tuple[str, ...]
    steps: tuple[str, ...] = ()  # proof steps, reported beside the statement's own verdict


PAPER = (
    PaperClaim("Prop 5.2", "for Θ ⊆ {‖θ‖ ≤ δ}, T ≥ 4L²: min_t E‖∇J(θ_t)‖² ≤ (4/T)Σ_t[c(2δ b_t + η v_t/2) + b_t² + v_t] "
               "+ (4c/T) E[J(θ_T) − J(θ_1)] (η free as printed; E10(d))", ("prop5.2",), ("E10", "E16"),
               steps=("C.5",)),
    PaperClaim("Prop 5.4", "v_t ≤ O(h⁸ L̃_f^{6h} L̃_π^{4h}/N + γ^{2h} h⁶ L̃_f^{6h} L̃_π^{4h}/N) (5.1), for RP-DP and RP-DR",
               ("prop5.4", "prop5.4.growth", "prop5.4.rate", "prop5.4.exponential", "prop5.4.not-exponential"),
               ("E1", "E2", "E3", "E4")),
    PaperClaim("Prop 5.8", "b_t ≤ O(κ'κ h⁴ L̃_f^{3h} L̃_π^{2h} ε_f + κ' h² γ^h L̃_f^{2h} L̃_π^h ε_v) (5.3)",
               ("prop5.8", "prop5.8.zero-error", "prop5.8.eps_f", "prop5.8.eps_v"),
               ("E5", "E12", "E13", "E14", "E17", "E18")),
    PaperClaim("Prop 5.10", "for L_f, L_π < 1: h* = O(W(2(log γ)²)/N + W(⅔(log γ)^{4/3}(ε_v/ε_f)^{2/3}))",
               ("prop5.10",), ("E6", "E7", "E8", "E9"), steps=("C.29", "C.37", "C.38", "C.39")),
    PaperClaim("Cor 5.12", "for T ≥ 4L²: min_t E‖∇J(θ_t)‖² ≤ 16δ ε(T)/√T + 4ε²(T)/T + O(1/√T), ε(T) = Σ_t b_t",
               ("cor5.12",), ("E11",)),
    PaperClaim("Remark 5.5", "smoothness regularisation (spectral normalisation) of model and policy avoids "
               "exponentially increasing gradient variance", ("remark5.5", "remark5.5.rate", "remark5.5.not-exponential"),
               ()),
    PaperClaim("Remark 5.9", "sample start states from ν at h = 0, from ζ at h = ∞, from a mixture for finite h",
               ("remark5.9",), ("E13", "E19")),
    PaperClaim("Remark 5.11", "h* is positive and increases with ε_v/ε_f",
               ("remark5.11", "remark5.11.best-positive", "remark5.11.positive"), ("E6",)),
    PaperClaim("Lemma C.1", "E‖dâ_i/dθ − dā_i/dθ‖ ≤ L̃_π^i L̃_f^i (e + 2L_θ i + 4L̃_θ i² L̃_π^i L̃_f^i), and the state "
               "deviation ≤ [2L_f K̂(i−1) + (C.18)]·i·L̃_f^i", ("lemmaC.1",), ("E3",)),
    PaperClaim("Lemma C.2", "E[∇_θ V^π(s_h)] = E_{σ̄}[∂Q/∂a·da_h/dθ + ∂Q/∂s·ds_h/dθ] (C.27), σ̄ of (C.25)–(C.26)",
               ("lemmaC.2", "C.25"), ("E12", "E15")),
    PaperClaim("Lemma C.3", "‖∇J − E ĝ‖ ≤ κ'(…ε_f, ε_v terms…), through the change of measure E_ζ[φ] ≤ κ E_ν[φ]",
               ("lemmaC.3", "4.8"), ("E12", "E13", "E14")),
    PaperClaim("(C.9)–(C.13)", "per-step derivative bounds ‖dâ_i/dθ‖ ≤ L_θ(i+1)L̃_f^i L̃_π^i, "
               "‖dŝ_i/dθ‖ ≤ L_θ(i²+1)L̃_f^{2i}L̃_π^i, K̂(i) (used by Props 5.4, 5.8)",
               ("C.9", "C.10", "C.12", "C.13"), ("E1", "E2")),
)


@section("proof-steps", "Proof steps of Appendix C: (C.9)–(C.13), Lemma C.1, (C.28)–(C.39) (verify/appendix_c/)",
         order=90)
def proof_step_results(quick: bool):
    from verify.appendix_c import proof_step_results as run
    return run(quick)


@figure("proof-steps")
def proof_step_figures(quick: bool, out):
    from verify.appendix_c.derivatives_c9_c13 import proof_step_figures as draw
    return draw(quick, out)


@controls("proof-steps")
def proof_step_controls(quick: bool):
    from verify.appendix_c.derivatives_c9_c13 import structural_controls
    from verify.appendix_c.lemma_c1 import lemma_c1_structural_controls
    return structural_controls(quick) + lemma_c1_structural_controls(quick)


from verify.section5 import prop5_2, prop5_10  # noqa: F401  (register on import)


@section("proof-chains", "Proof chains of Appendix C: (C.1)–(C.5), (C.7)–(C.24), Lemmas C.2–C.3 (verify/appendix_c/)",
         order=95)
def proof_chain_results(quick: bool):
    from verify.appendix_c import proof_chain_results as run
    return run(quick)


@controls("proof-chains")
def proof_chain_controls(quick: bool):
    from verify.appendix_c.lemmas_c2_c3 import structural_controls
    return structural_controls(quick)

from verify import hstar, search  # noqa: F401,E402  (register the h*-probe and adversarial-search sections)
from verify.section5 import remark5_5  # noqa: F401  (register on import)
