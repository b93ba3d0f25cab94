"""bounds/__init__: the name table and the lazy hstar entries build the same objects as the modules."""
import math

import pytest

import bounds
from bounds import hstar


@pytest.mark.parametrize("name", ["g_of_h", "g_corrected"])
def test_lazy_hstar_entries_build_the_hstar_expressions(name):
    want = getattr(hstar, name)()
    assert bounds._hstar(name)() == want
    assert bounds.EXPRESSIONS[name]() == want


def test_every_name_builds_its_module_function():
    for name, ctor in bounds.EXPRESSIONS.items():
        module = bounds.variance if hasattr(bounds.variance, name) else bounds.bias if hasattr(bounds.bias, name) else hstar
        assert ctor() == getattr(module, name)(), name


def test_evaluate_by_name():
    # (C.10) at i = 3, L_f = 1.3, L_π = 1.7, L_θ = 0.6: L_θ (i+1) L̃_f^i L̃_π^i
    r = bounds.evaluate("c10", i=3, L_f=1.3, L_pi=1.7, L_theta=0.6)
    assert float(r.value) == pytest.approx(0.6 * 4 * 1.3**3 * 1.7**3, rel=1e-12)
    assert float(r.log) == pytest.approx(math.log(0.6 * 4 * 1.3**3 * 1.7**3), rel=1e-12)
    assert bounds.evaluator("c10").name == "c10"
