"""bounds.numeric on inputs whose values are known exactly: fast, deterministic cases for mutation
testing (the property tests of test_bounds_numeric.py are too slow to run per mutant)."""
import math

import numpy as np
import pytest
import sympy as sp

from bounds import hstar
from bounds import numeric as nm
from bounds.symbols import L_f, gamma, h


@pytest.mark.parametrize("n", [1, 2, 5, 40])
def test_log_geom_at_rho_one_is_log_n(n):
    assert nm.log_geom(0.0, n) == pytest.approx(math.log(n), abs=1e-15)
    # continuous through ρ = 1 from both sides
    for x in (1e-9, -1e-9):
        assert nm.log_geom(x, n) == pytest.approx(math.log(n), rel=1e-6)


@pytest.mark.parametrize("rho,n,want", [(2.0, 3, 7.0), (0.5, 3, 1.75), (0.0, 4, 1.0), (3.0, 1, 1.0)])
def test_log_geom_small_sums(rho, n, want):
    x = -np.inf if rho == 0 else math.log(rho)
    assert math.exp(nm.log_geom(x, n)) == pytest.approx(want, rel=1e-12)


def test_log_geom_of_an_empty_sum_is_minus_infinity():
    assert np.isneginf(nm.log_geom(0.3, 0)) and np.isneginf(nm.log_geom(-0.3, -2))


def test_exp_max_and_signed_sums_in_log_space():
    assert nm.log_form(sp.exp(h)) == h
    ev = nm.Evaluator(L_f * sp.exp(2 * h), "exp")
    assert float(ev(h=1.5, L_f=3.0).value) == pytest.approx(3.0 * math.exp(3.0), rel=1e-13)
    # max(1 − γ, 0) through the signed-sum branch: γ = 0.25 gives 0.75, γ ≥ 1 gives 0 (log −inf)
    ev = nm.Evaluator(sp.Max(1 - gamma, 0), "max")
    assert float(ev(gamma=0.25).value) == pytest.approx(0.75, rel=1e-15)
    assert np.isneginf(ev.log(gamma=1.5))
    inv = nm.Evaluator(1 / sp.Max(1 - gamma, 0), "inv")
    assert float(inv(gamma=1.5).value) == nm.FLOAT_MAX and float(inv(gamma=0.5).value) == pytest.approx(2.0)


def test_zero_times_log_zero_is_zero():
    ev = nm.Evaluator(L_f ** h, "pow")
    assert float(ev(L_f=0.0, h=0.0).value) == 1.0 and float(ev(L_f=0.0, h=2.0).value) == 0.0


def test_hstar_cli_accepts_a_batch_of_one(capsys):
    assert hstar.main(["--eps_f", "0.1", "--eps_v", "1", "--N", "1", "--json"]) == 0
    assert '"N": 1' in capsys.readouterr().out.replace('"N": 1.0', '"N": 1')
