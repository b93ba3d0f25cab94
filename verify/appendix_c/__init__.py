"""Appendix C, the proofs step by step, one module per step or chain:

- ``smoothness_c1_c5``: the smoothness step of Prop 5.2's proof, (C.1)–(C.5);
- ``derivatives_c9_c13``: the per-step derivative bounds (C.9)–(C.13) and their path instances;
- ``lemma_c1``: Lemma C.1 (deviation from a reference trajectory);
- ``chains_c7_c24``: the variance chain (C.7)–(C.16) and the bias chain (C.17)–(C.24);
- ``lemmas_c2_c3``: Lemma C.2 ((C.25)–(C.27)), Lemma C.3 and the readings of ε_f (4.7), ε_v (4.8);
- ``hstar_c28_c39``: the minimisation of g(h) behind Prop 5.10, (C.28)–(C.39).

The report reads two groups of rows, each one ``CheckResult`` per (step, form, instance); negative
controls are not included (they are tests).
"""
from __future__ import annotations


def proof_step_results(quick: bool) -> list:
    """The steps (C.9)–(C.13), Lemma C.1 and (C.28)–(C.39). Claims are equation numbers or
    "lemmaC.1"; ``instance["line"]`` names the line of the proof."""
    from verify.appendix_c import derivatives_c9_c13, hstar_c28_c39, lemma_c1

    return (derivatives_c9_c13.derivative_step_results(quick) + lemma_c1.lemma_c1_results(quick)
            + hstar_c28_c39.c4_results(quick))


def proof_chain_results(quick: bool) -> list:
    """Lemmas C.2 and C.3 with the ε readings, the variance and bias chains (C.7)–(C.24) and the
    smoothness step (C.1)–(C.5)."""
    from verify.appendix_c import chains_c7_c24, lemmas_c2_c3, smoothness_c1_c5

    return lemmas_c2_c3.lemma_results(quick) + chains_c7_c24.results(quick) + smoothness_c1_c5.results(quick)
