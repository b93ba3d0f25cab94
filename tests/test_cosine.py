"""toy_mdps.cosine: the closed-form RP-DP variance against a simulation differentiated by autograd,
and the instance of erratum E4's refutation inside Prop 5.4's hypotheses."""
import math

import pytest
import torch

from toy_mdps.cosine import CosineLinear

E4 = CosineLinear(A=0.69, B=0.69, K=0.95, sigma=0.1, c=0.1, gamma=0.99)


def simulated_variance(m: CosineLinear, h: int, n: int, seed: int) -> tuple[float, float]:
    """Var of d/dθ of (4.1) on n unrolls, by autograd through the dynamics, with its standard error."""
    g = torch.Generator().manual_seed(seed)
    theta = torch.full((n,), m.theta, dtype=torch.float64, requires_grad=True)
    s = m.m0 + m.z * torch.randn(n, generator=g, dtype=torch.float64)
    value = torch.zeros(n, dtype=torch.float64)
    for i in range(h + 1):
        a = m.K * s + theta + m.sigma * torch.randn(n, generator=g, dtype=torch.float64)
        value = value + (m.gamma ** i * torch.cos(s) if i < h else m.gamma ** h * torch.cos(s) / (1 - m.gamma))
        s = m.A * s + m.B * a + m.c * torch.randn(n, generator=g, dtype=torch.float64)
    grad, = torch.autograd.grad(value.sum(), theta)
    d = (grad - grad.mean()) ** 2
    return float(d.mean()), float(d.std() / math.sqrt(n))


@pytest.mark.parametrize("m", [E4, CosineLinear(A=0.5, B=-0.4, K=0.3, sigma=0.3, c=0.2, gamma=0.9, theta=0.4, m0=1.0,
                                                z=0.2)], ids=["E4", "contracting"])
@pytest.mark.parametrize("h", [1, 3, 8])
def test_closed_form_variance_matches_simulation(m, h):
    v, se = simulated_variance(m, h, 100_000, seed=h)
    assert abs(m.variance(h) - v) < 4 * se, (m.variance(h), v, se)


def test_e4_instance_has_lipschitz_constants_below_one_and_an_expanding_closed_loop():
    lip = E4.lipschitz()
    assert lip["L_f"] < 1 and lip["L_pi"] < 1 and E4.closed_loop > 1
    assert E4.variance(0) == 0.0  # D_0 = 0: the reward does not depend on the action
    # the variance grows like (γ(A + BK))^{2h}
    rate = math.log(E4.variance(160) / E4.variance(120)) / 40
    assert rate == pytest.approx(2 * math.log(E4.gamma * E4.closed_loop), rel=0.02)
