"""Toy MDPs with known truth: discounted LQR in closed form (``lqr``) and the expansive sine family
(``chaotic``), both behind the ``base.ToyMDP`` interface that ``verify.measure`` and the estimators
in ``trainers.estimators`` use."""
from toy_mdps.base import LinearPolicy, NeuralPolicy, ToyMDP, unit_noise
from toy_mdps.chaotic import SineMDP
from toy_mdps.lqr import LQR

__all__ = ["LQR", "SineMDP", "ToyMDP", "LinearPolicy", "NeuralPolicy", "unit_noise"]
