"""A small finite-state, finite-action MDP under a fixed policy: exact step distributions and
visitations, for the change-of-measure steps of Appendix C (Lemmas C.2, C.3).

Everything is a numpy array; nothing is sampled. P(s_i = s, a_i = a) is computed by matrix powers
of the state chain P_π(s, s') = Σ_a π(a|s) f(s'|s, a); the visitation follows docs/conventions.md:
``visitation(normalised=True)`` is ν_π = (1 − γ) Σ_i γ^i P(s_i), the unnormalised one drops 1 − γ.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class FiniteChain:
    """States 0..S−1, actions 0..A−1; ``f[s, a, s']`` transition probabilities, ``pi[s, a]``
    the policy, ``zeta[s]`` the initial distribution, ``gamma`` the discount."""

    f: np.ndarray
    pi: np.ndarray
    zeta: np.ndarray
    gamma: float

    @property
    def chain(self) -> np.ndarray:
        """P_π(s, s') = Σ_a π(a|s) f(s'|s, a)."""
        return np.einsum("sa,sat->st", self.pi, self.f)

    def state_dist(self, i: int, start=None) -> np.ndarray:
        """P(s_i = ·) with s_0 ∼ ``start`` (default ζ)."""
        p = self.zeta if start is None else np.asarray(start, float)
        return p @ np.linalg.matrix_power(self.chain, i)

    def state_action_dist(self, i: int, start=None) -> np.ndarray:
        """P(s_i = s, a_i = a) = P(s_i = s) π(a|s), shape (S, A)."""
        return self.state_dist(i, start)[:, None] * self.pi

    def visitation(self, normalised: bool, start=None, state_action: bool = False) -> np.ndarray:
        """Σ_i γ^i P(s_i = ·) (times 1 − γ if ``normalised``), exact: ρ (I − γ P_π)^{-1}."""
        p = self.zeta if start is None else np.asarray(start, float)
        nu = np.linalg.solve((np.eye(len(p)) - self.gamma * self.chain).T, p)
        nu = (1 - self.gamma) * nu if normalised else nu
        return nu[:, None] * self.pi if state_action else nu

    def tail_visitation(self, h: int, state_action: bool = True) -> np.ndarray:
        """σ̄(s, a) = Σ_{i≥h} γ^{i−h} P(s_i = s, a_i = a), s_0 ∼ ζ (unnormalised): the visitation
        started from the step-h distribution."""
        return self.visitation(False, start=self.state_dist(h), state_action=state_action)

    def kappa(self) -> float:
        """κ of (5.2) with ν normalised: E_ν[(dζ/dν)²]^{1/2} = (Σ_s ζ(s)²/ν(s))^{1/2}."""
        nu = self.visitation(True)
        return float(np.sqrt(np.sum(self.zeta ** 2 / nu)))

    @classmethod
    def ring(cls, n: int = 5, stay: float = 0.7, gamma: float = 0.9, start: int = 0) -> "FiniteChain":
        """n states on a ring, two actions: 0 stays with probability ``stay`` (else moves +1),
        1 moves +1 with probability ``stay`` (else stays); π uniform; ζ the point mass at
        ``start``, so dζ/dν is as far from 1 as a start distribution allows."""
        f = np.zeros((n, 2, n))
        for s in range(n):
            f[s, 0, s], f[s, 0, (s + 1) % n] = stay, 1 - stay
            f[s, 1, (s + 1) % n], f[s, 1, s] = stay, 1 - stay
        zeta = np.zeros(n)
        zeta[start] = 1.0
        return cls(f, np.full((n, 2), 0.5), zeta, gamma)
