"""Imports every claim module so that its report section is registered (``verify.registry``).

A new claim module registers itself with ``@section``/``@figure``; a module with its own entry
points (the proof steps of Appendix C) is registered here.
"""
from verify import prop54, prop58  # noqa: F401  (register on import)
from verify.registry import figure, section


@section("proof-steps", "Proof steps of Appendix C (verify/proof_steps.py)", order=90)
def proof_step_results(quick: bool):
    from verify.proof_steps import proof_step_results as run
    return run(quick)


@figure("proof-steps")
def proof_step_figures(quick: bool, out):
    from verify.proof_steps import proof_step_figures as draw
    return draw(quick, out)


from verify import prop52, prop510  # noqa: F401  (register on import)


@section("proof-chains", "Proof chains of Appendix C (verify/proof_chains.py)", order=95)
def proof_chain_results(quick: bool):
    from verify.proof_chains import proof_chain_results as run
    return run(quick)

from verify import remark55  # noqa: F401  (register on import)
