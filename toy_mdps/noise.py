"""The noise of imagined trajectories: drawn by the toy MDPs, consumed by the estimators.

It lives here, below ``trainers/``, so that ``toy_mdps`` imports nothing of ours above it;
``trainers.estimators`` re-exports it.
"""
from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor


@dataclass(frozen=True)
class Noise:
    """Per-step noise of N imagined trajectories.

    ``varsigma`` has shape (H + 1, N, d_ς): the policy noise at steps 0..H; ``xi`` has shape
    (H, N, d_ξ): the model noise of transitions 0..H-1. H is the number of model steps (h, or the
    truncation horizon when h = ∞).
    """

    varsigma: Tensor
    xi: Tensor

    @property
    def horizon(self) -> int:
        return self.xi.shape[0]

    @property
    def batch(self) -> int:
        return self.varsigma.shape[1]

    def select(self, idx) -> "Noise":
        """The noise of the trajectories ``idx`` (a slice or index tensor over N)."""
        return Noise(self.varsigma[:, idx], self.xi[:, idx])
