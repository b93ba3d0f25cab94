"""The sympy symbols of Sections 4-5 and Appendix C, named as in the paper, and the default values.

Values are unnormalised (docs/conventions.md). ``L_f`` is the model's Lipschitz constant L_f̂
(Assumption A.2); ``L`` is the smoothness constant of J (Assumption 5.1). The O(·) of the printed
statements hide constants, exposed here as ``C_var`` (5.1), ``C_bias`` (5.3), ``C_h`` (Prop 5.10)
and ``C_conv`` (Cor 5.12); their default 1 is a reading, not a claim of the paper.
"""
import sympy as sp

_pos = dict(positive=True, real=True)
_nonneg = dict(nonnegative=True, real=True)

h = sp.Symbol("h", **_nonneg)  # model expansion step (real so that it can be differentiated)
i = sp.Symbol("i", **_nonneg)  # step index inside the unroll
N = sp.Symbol("N", **_pos)  # batch size
T = sp.Symbol("T", **_pos)  # number of iterations
gamma = sp.Symbol("gamma", **_pos)
eps_f = sp.Symbol("eps_f", **_nonneg)  # model derivative error (4.7)
eps_v = sp.Symbol("eps_v", **_nonneg)  # critic derivative error (4.8)
L_f = sp.Symbol("L_f", **_nonneg)  # L_f̂, the learned model's Lipschitz constant
L_pi = sp.Symbol("L_pi", **_nonneg)
L_theta = sp.Symbol("L_theta", **_nonneg)  # sup ‖∂π/∂θ‖ (Appendix A.2)
L_r = sp.Symbol("L_r", **_nonneg)
L_Q = sp.Symbol("L_Q", **_nonneg)  # true Q (Assumption 5.6)
L_Qhat = sp.Symbol("L_Qhat", **_nonneg)  # critic Q̂ (Assumption 5.3)
kappa = sp.Symbol("kappa", **_pos)  # (5.2); κ ≥ 1 always, by Jensen
beta = sp.Symbol("beta", **_nonneg)  # mixing weight of μ
e = sp.Symbol("e", **_nonneg)  # Lemma C.1's constant sup E‖dâ_0/dθ − dā_0/dθ‖
eta = sp.Symbol("eta", **_pos)  # learning rate
delta = sp.Symbol("delta", **_pos)  # radius of Θ in Prop 5.2
L = sp.Symbol("L", **_nonneg)  # smoothness of J (Assumption 5.1)
c = sp.Symbol("c", **_pos)  # (η − Lη²)^{-1}, kept as a symbol where the paper keeps it
b = sp.Symbol("b", **_nonneg)  # per-step gradient bias b_t (taken constant in t)
v = sp.Symbol("v", **_nonneg)  # per-step gradient variance v_t (taken constant in t)
DeltaJ = sp.Symbol("DeltaJ", real=True)  # E[J(π_{θ_T}) − J(π_{θ_1})] as printed, or −θ_0 corrected
G = sp.Symbol("G", **_nonneg)  # bound on E‖ĝ_t‖ (corrected Prop 5.2, no projection)
C_var = sp.Symbol("C_var", **_pos)
C_bias = sp.Symbol("C_bias", **_pos)
C_h = sp.Symbol("C_h", **_pos)
C_conv = sp.Symbol("C_conv", **_pos)
#: the hidden constants of the O(·) statements: an expression holding one is an O-form
O_CONSTANTS = frozenset({C_var, C_bias, C_h, C_conv})


def tilde(x):
    """L̃ := max{L, 1}, the paper's notation above Proposition 5.4."""
    return sp.Max(x, 1)


class GeomSum(sp.Function):
    """Σ_{j=0}^{n−1} ρ^j, the solution operator of (C.11) with z_0 = 0, b = 1; 0 for n ≤ 0.

    Kept unevaluated so that the log-space evaluator can treat it without cancellation
    (bounds.numeric.log_geom); ``.doit()`` gives sympy's Sum for symbolic checks.
    """

    nargs = 2

    def doit(self, **hints):
        rho, n = (a.doit(**hints) for a in self.args)
        j = sp.Dummy("j", integer=True, nonnegative=True)
        return sp.Sum(rho**j, (j, 0, n - 1)).doit()


kappa_prime = beta + kappa * (1 - beta)  # κ' of Proposition 5.8

#: Defaults of every constant the CLI and the evaluators accept (documented in --help and JSON).
DEFAULTS = {
    "gamma": 0.99,
    "N": 1.0,
    "L_f": 0.9,
    "L_pi": 0.9,
    "L_theta": 1.0,
    "L_r": 1.0,
    "L_Q": 1.0,
    "L_Qhat": 1.0,
    "kappa": 1.0,
    "beta": 0.5,
    "e": 0.0,
    "eta": 0.01,
    "delta": 1.0,
    "L": 1.0,
    "C_var": 1.0,
    "C_bias": 1.0,
    "C_h": 1.0,
    "C_conv": 1.0,
}

#: name -> Symbol, for keyword evaluation.
BY_NAME = {
    s.name: s
    for s in (h, i, N, T, gamma, eps_f, eps_v, L_f, L_pi, L_theta, L_r, L_Q, L_Qhat, kappa, beta,
              e, eta, delta, L, c, b, v, DeltaJ, G, C_var, C_bias, C_h, C_conv)
}
