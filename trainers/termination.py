"""Termination rules of Hopper-v5 and Walker2d-v5 as torch functions of the observation.

From gymnasium's ``hopper_v5.py`` / ``walker2d_v5.py`` ``is_healthy`` with the default
arguments and ``exclude_current_positions_from_observation=True`` (obs = qpos[1:], clip(qvel, ±10)),
so obs[0] = z (torso height), obs[1] = torso angle. The env terminates when not healthy:

- Hopper: every element of obs[1:] (= state_vector()[2:]) in (-100, 100), z in (0.7, inf),
  angle in (-0.2, 0.2), all strict.
- Walker2d: z in (0.8, 2.0), angle in (-1, 1), strict.

One caveat, documented not patched: Hopper checks the *unclipped* qvel against ±100 while the
observation clips it at ±10, so that sub-rule can never fire on observations; velocities that
large do not occur before the hopper has fallen.
"""
from __future__ import annotations

from collections.abc import Callable

from torch import Tensor


def hopper_terminal(s: Tensor) -> Tensor:
    z, angle, rest = s[..., 0], s[..., 1], s[..., 1:]
    healthy_state = ((rest > -100.0) & (rest < 100.0)).all(-1)
    healthy = healthy_state & (z > 0.7) & (angle > -0.2) & (angle < 0.2)
    return ~healthy


def walker2d_terminal(s: Tensor) -> Tensor:
    z, angle = s[..., 0], s[..., 1]
    healthy = (z > 0.8) & (z < 2.0) & (angle > -1.0) & (angle < 1.0)
    return ~healthy


TERMINAL: dict[str, Callable[[Tensor], Tensor]] = {"Hopper-v5": hopper_terminal, "Walker2d-v5": walker2d_terminal}
