"""trainers.theory: the simulator's Jacobians against independent differences, ε_f = 0 and a zero
gradient distance for a model that is the simulator, the gradient-path recursion against the
shared estimator's exact pathwise derivatives, ε_v exact where Q^π is known (γ = 0) and its
pathwise derivative against a difference of Q_H, the intervals against scipy's bootstrap of the
data, reproducibility from a seed, and the command line's errors."""
import dataclasses
import json
import math

import mujoco
import numpy as np
import pytest
import torch
from scipy import stats
from torch import nn

from trainers import estimators, figures, instrument, theory
from trainers.algos import make_agent
from trainers.config import Config
from trainers.termination import TERMINAL
from trainers.train import train


@pytest.fixture(scope="module", params=["Hopper-v5", "Walker2d-v5"])
def sim(request):
    return theory.Simulator(request.param)


def test_step_jacobian_matches_central_difference_of_env_step_without_contact(sim):
    """The chained frame Jacobians against a central difference of gymnasium's whole env.step
    (another code path, another eps) at states with no contact and no joint limit."""
    obs, acts = theory.contact_free_states(sim, 4, np.random.default_rng(0))
    for s, a in zip(obs, acts):
        j = sim.jacobian(s, a)
        f_s, f_a = sim.fd_jacobian(s, a)
        assert not j.constrained and not j.clipped_out
        assert theory.relative_error(j.f_s, f_s) < 1e-6
        assert theory.relative_error(j.f_a, f_a) < 1e-6
        next_obs, r = sim.step(s, a)
        np.testing.assert_allclose(j.next_obs, next_obs, atol=1e-12)
        assert j.reward == pytest.approx(r, abs=1e-10)


def test_the_validation_catches_a_careless_chain():
    """Power of the check above: the frames' Jacobians reused from the first frame, or the control's
    effect through the earlier frames dropped, miss the whole-step difference by far more than 1e-6."""
    sim = theory.Simulator("Hopper-v5")
    s, a = (x[0] for x in theory.contact_free_states(sim, 1, np.random.default_rng(6)))
    f_s, f_a = sim.fd_jacobian(s, a)
    sim.set_obs(s)
    sim.d.ctrl[:] = a
    frames = []
    for _ in range(sim.frame_skip):
        frames.append(sim._frame_jacobian(1e-6))
        mujoco.mj_step(sim.m, sim.d)
    a_first, b_first = frames[0]
    frozen = np.linalg.matrix_power(a_first, sim.frame_skip)[1:, 1:]
    last_b_only = frames[-1][1][1:]
    assert theory.relative_error(frozen, f_s) > 1e-4
    assert theory.relative_error(last_b_only, f_a) > 0.1


def test_reward_derivative_is_the_derivative_of_the_env_reward(sim):
    s, a = (x[0] for x in theory.contact_free_states(sim, 1, np.random.default_rng(1)))
    j, eps = sim.jacobian(s, a), 1e-5
    r_s = [(sim.step(s + eps * e, a)[1] - sim.step(s - eps * e, a)[1]) / (2 * eps) for e in np.eye(len(s))]
    r_a = [(sim.step(s, a + eps * e)[1] - sim.step(s, a - eps * e)[1]) / (2 * eps) for e in np.eye(len(a))]
    np.testing.assert_allclose(j.r_s, r_s, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(j.r_a, r_a, rtol=1e-5, atol=1e-6)


def test_dynamics_do_not_depend_on_the_dropped_x_position(sim):
    s, a = (x[0] for x in theory.contact_free_states(sim, 1, np.random.default_rng(2)))
    base = sim.step(s, a)[0]
    sim.set_obs(s)
    sim.d.qpos[0] = 3.7
    mujoco.mj_forward(sim.m, sim.d)
    moved = sim.env.step(a)[0]
    np.testing.assert_allclose(moved, base, atol=1e-9)


def test_frame_difference_equals_mjd_transitionFD_on_an_euler_copy():
    """Hopper integrates with RK4, which mjd_transitionFD refuses; with Euler both must agree."""
    sim = theory.Simulator("Hopper-v5")
    sim.m.opt.integrator = mujoco.mjtIntegrator.mjINT_EULER
    obs, acts = theory.contact_free_states(sim, 2, np.random.default_rng(3))
    n, nu = sim.nv, sim.nu
    for s, a in zip(obs, acts):
        sim.set_obs(s)
        sim.d.ctrl[:] = a
        a_mat, b_mat = sim._frame_jacobian(1e-6)
        ref_a, ref_b = np.zeros((2 * n, 2 * n)), np.zeros((2 * n, nu))
        mujoco.mjd_transitionFD(sim.m, sim.d, 1e-6, True, ref_a, ref_b, None, None)
        np.testing.assert_allclose(a_mat, ref_a, atol=1e-6)
        np.testing.assert_allclose(b_mat, ref_b, atol=1e-6)


def test_clipped_output_velocity_rows_are_zero():
    sim = theory.Simulator("Hopper-v5")
    s, a = (x[0] for x in theory.contact_free_states(sim, 1, np.random.default_rng(4)))
    s = s.copy()
    s[sim.nq - 1 + 2] = 9.99  # a joint velocity just below the clip: the next one exceeds it
    j = sim.jacobian(s, a)
    clipped = np.abs(j.next_obs[sim.nq - 1:]) >= theory.VELOCITY_CLIP
    assert j.clipped_out and clipped.any()
    assert np.all(j.f_s[sim.nq - 1:][clipped] == 0) and np.all(j.f_a[sim.nq - 1:][clipped] == 0)


def test_gradient_path_matches_exact_pathwise_derivatives():
    """The per-step recursion of ‖dŝ_i/dθ‖ against estimators.trajectory_jacobians (forward mode)."""
    torch.manual_seed(0)
    cfg = Config.tiny(sn=True)
    agent = make_agent(cfg, 11, 3)
    model, policy = agent.model, agent.policy
    for m in (model, policy):
        m.eval()
    h, n = 2, 3
    s0 = torch.randn(n, 11)
    noise = estimators.Noise(torch.randn(h + 1, n, 3), torch.zeros(h, n, 11))
    ds, _ = estimators.trajectory_jacobians(policy, model, s0, noise, h)
    path = theory.rollout(policy, model, s0, noise, h)
    s, a = path.s[:h].reshape(h * n, -1), path.a[:h].reshape(h * n, -1)
    f_s, f_a = theory.model_jacobians(model, s, a)
    pi_s = theory.policy_state_jacobian(policy, s, noise.varsigma[:h].reshape(h * n, -1))
    pi_t = torch.stack([theory.policy_param_jacobian(policy, path.s[i], noise.varsigma[i]) for i in range(h)])
    shape = lambda x: x.reshape(h, n, *x.shape[1:])  # noqa: E731
    gp = theory.gradient_path(shape(f_s), shape(f_a), shape(pi_s), pi_t)
    exact = torch.linalg.matrix_norm(ds.double(), 2)  # (h+1, n)
    torch.testing.assert_close(gp["D"], exact, rtol=1e-4, atol=1e-6)
    rho = gp["L_f"] * torch.sqrt(1 + gp["L_pi"] ** 2)
    assert torch.all(gp["closed_loop"] <= rho * (1 + 1e-6))


class _SimulatorModule(nn.Module):
    """A "learned model" that calls the simulator: f̂ = f, r̂ = r."""

    def __init__(self, sim):
        super().__init__()
        self.sm = theory.SimulatorModel(sim)

    def forward(self, s, a, xi):
        return self.sm.model(s, a, xi)

    def reward(self, s, a):
        return self.sm.reward(s, a)

    def done_prob(self, s, a):
        """The env's rule on the next state, as the reference gradient applies it."""
        return TERMINAL["Hopper-v5"](self.sm.model(s, a, None)).float()


def _simulator_as_model():
    """A tiny RP-DP agent whose model is the simulator, its simulator, and contact-free start states."""
    sim = theory.Simulator("Hopper-v5")
    torch.manual_seed(0)
    agent = make_agent(Config.tiny(h=2), 11, 3)
    agent.model = _SimulatorModule(sim)
    states, _ = theory.contact_free_states(sim, 8, np.random.default_rng(5), lift=0.3)
    return agent, sim, states


def test_eps_f_and_gradient_distance_vanish_for_the_simulator_as_model():
    agent, sim, states = _simulator_as_model()
    out = theory.measure(agent, states, sim, n=4, seed=0)["summary"]
    for k in ("eps_f_real", "eps_f_imag", "eps_f_paired", "eps_f_real_units"):
        assert out[k] < 1e-5 * out["L_f_sim_real_q100"], k
    assert out["grad_distance"] <= 1e-5 * out["grad_ref_norm"]
    assert out["corrected_recursion_violated_real"] == 0.0


def test_eps_f_is_positive_for_a_learned_model():
    """Structural control: the same measurement through an untrained network is far from 0."""
    sim = theory.Simulator("Hopper-v5")
    torch.manual_seed(0)
    agent = make_agent(Config.tiny(h=2), 11, 3)
    states, _ = theory.contact_free_states(sim, 8, np.random.default_rng(5), lift=0.3)
    out = theory.measure(agent, states, sim, n=4, seed=0)["summary"]
    assert out["eps_f_real"] > 0.1 and out["grad_distance"] > 0


SMALL_EPS_V = ["--eps-v-states", "2", "--eps-v-draws", "2", "--eps-v-horizons", "1,2"]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("theory") / "run"
    assert train(Config.tiny(h=2, steps=200, grad_var_every=0, out=str(out))) == 0
    return out


def test_cli_measures_a_run(tiny_run, capsys):
    assert theory.main([str(tiny_run), "--json", "--samples", "3", *SMALL_EPS_V]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["h"] == 2 and out["n"] == 3 and out["step"] == 200
    assert np.isfinite(out["eps_f_real"]) and len(out["D_imag"]) == 3
    assert out["eps_v_draws"] == 2 and {"eps_v_H1", "eps_v_H2_lo", "eps_v_paired_H2_units"} <= set(out)
    assert out["eps_f_real_lo"] <= out["eps_f_real"] <= out["eps_f_real_hi"]


@pytest.mark.parametrize("args,message", [
    (["/nonexistent/run"], "is not a directory"),
    (["{tmp}"], "holds no config.json"),
    (["{run}", "--samples", "1"], "--samples must be >= 2"),
    (["{run}", "--bogus"], "unrecognized arguments"),
    (["{run}", "--eps-v-horizons", "1,x"], "--eps-v-horizons must be integers"),
    (["{run}", "--eps-v-horizons", "0,3"], "--eps-v-horizons must be >= 1"),
    (["{run}", "--eps-v-draws", "1"], "--eps-v-draws >= 2"),
    ([], "required"),
])
def test_cli_bad_input_is_one_line_and_exit_2(tiny_run, tmp_path, capsys, args, message):
    args = [a.format(tmp=tmp_path, run=tiny_run) for a in args]
    assert theory.main(args) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_cli_refuses_a_run_without_model(tmp_path, capsys):
    run = tmp_path / "rp0"
    assert train(Config.tiny(algo="rp0", h=0, steps=100, grad_var_every=0, out=str(run))) == 0
    assert theory.main([str(run)]) == 2
    assert "no learned model" in capsys.readouterr().err


def test_cli_refuses_a_torn_checkpoint(tiny_run, tmp_path, capsys):
    bad = tmp_path / "torn"
    bad.mkdir()
    (bad / "config.json").write_text((tiny_run / "config.json").read_text())
    (bad / theory.CHECKPOINT).write_bytes(b"not a checkpoint")
    assert theory.main([str(bad)]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_append_csv_writes_one_row_per_call(tmp_path):
    theory.append_csv(tmp_path, 10, {"eps_f_real": 0.5, "D_imag": [0.0, 1.0]})
    theory.append_csv(tmp_path, 20, {"eps_f_real": 0.25, "D_imag": [0.0, 2.0]})
    lines = (tmp_path / "theory.csv").read_text().splitlines()
    assert lines[0] == "step,eps_f_real,D_imag_0,D_imag_1" and lines[2] == "20,0.25,0.0,2.0"


def test_append_csv_replaces_rows_from_a_resumed_step(tmp_path):
    for step in (10, 20, 30):
        theory.append_csv(tmp_path, step, {"eps_f_real": step / 10})
    theory.append_csv(tmp_path, 20, {"eps_f_real": 9.0})
    assert (tmp_path / "theory.csv").read_text().splitlines()[1:] == ["10,1.0", "20,9.0"]


def test_training_hook_writes_theory_csv_and_leaves_training_unchanged(tmp_path):
    base = dict(h=2, steps=150, grad_var_every=0)
    assert train(Config.tiny(**base, out=str(tmp_path / "plain"))) == 0
    assert train(Config.tiny(**base, theory_every=150, out=str(tmp_path / "theory"))) == 0
    strip = lambda run: [line.rsplit(",", 1)[0] for line in (run / "metrics.csv").read_text().splitlines()]  # noqa: E731
    assert strip(tmp_path / "plain") == strip(tmp_path / "theory")
    lines = (tmp_path / "theory" / "theory.csv").read_text().splitlines()
    assert len(lines) == 2 and lines[1].startswith("150,2,")


def test_theory_every_needs_a_model():
    with pytest.raises(ValueError, match="theory_every needs a learned model"):
        Config.tiny(algo="rp0", h=0, theory_every=100).validate()


def test_a_contact_switch_inside_the_difference_is_flagged():
    """In the initial pose the thigh and leg joints sit at the upper end of their ranges (0 rad), so
    a joint limit switches within eps and the difference scales like 1/eps (1e4 at eps = 1e-6, 1e5
    at 1e-7): such states are flagged, smooth ones are not."""
    sim = theory.Simulator("Hopper-v5")
    rng = np.random.default_rng(7)
    flags = []
    for _ in range(40):
        s = np.concatenate([sim.env.init_qpos[1:], rng.uniform(-1, 1, sim.nv)])
        s[0] += rng.uniform(-0.02, 0.02)  # the foot near the floor
        flags.append(sim.jacobian(s, rng.uniform(-1, 1, sim.nu), check=True).nonsmooth)
    smooth, _ = theory.contact_free_states(sim, 3, rng)
    assert not any(sim.jacobian(s, np.zeros(sim.nu), check=True).nonsmooth for s in smooth)
    assert any(flags)


def test_theory_figure_draws_sn_and_vanilla(tmp_path):
    cols = [c for _, pairs, _ in figures.THEORY_PANELS for c, _ in pairs]
    for sn in (True, False):
        run = tmp_path / ("sn" if sn else "vanilla")
        run.mkdir()
        (run / "config.json").write_text(json.dumps({"env": "Hopper-v5", "algo": "rp-dp", "h": 3, "sn": sn, "seed": 0}))
        (run / "metrics.csv").write_text("step,eval_return\n1000,1.0\n2000,2.0\n")
        for step in (1000, 2000):
            row = {c: 1.0 + step / 1000 for c in cols}
            if sn:  # a single run's band is its own interval
                row.update({f"{c}_{e}": row[c] + d for c in cols for e, d in (("lo", -0.5), ("hi", 0.5))})
            theory.append_csv(run, step, {**row, "eps_f_real_units": 2.0})
    written = figures.make_figures([tmp_path], tmp_path / "fig")
    assert tmp_path / "fig" / "fig_theory.png" in written
    band = figures.theory_band([figures.load_run(tmp_path / "sn")], "eps_v_H10_units", True)
    np.testing.assert_allclose(band[2], [1.5, 2.5])


def test_cli_refuses_a_checkpoint_of_other_networks(tiny_run, tmp_path, capsys):
    other = tmp_path / "other"
    other.mkdir()
    cfg = json.loads((tiny_run / "config.json").read_text())
    (other / "config.json").write_text(json.dumps({**cfg, "model_hidden": 8}))
    (other / theory.CHECKPOINT).write_bytes((tiny_run / theory.CHECKPOINT).read_bytes())
    assert theory.main([str(other)]) == 2
    assert "does not fit this version's agent" in capsys.readouterr().err


class _RewardCritic(nn.Module):
    """Q̂(s, a) = r(s, a) + c Σ_j s_j with the simulator's reward: Q^π itself at γ = 0 when c = 0."""

    def __init__(self, sim, c):
        super().__init__()
        self.sm, self.c = theory.SimulatorModel(sim), c

    def forward(self, s, a):
        return self.sm.reward(s, a) + self.c * s.sum(1)


def _eps_v_inputs(sim, n=3, lift=1.0):
    torch.manual_seed(0)
    agent = make_agent(Config.tiny(h=2), sim.obs_dim, sim.nu)
    s = torch.tensor(theory.contact_free_states(sim, n, np.random.default_rng(8), lift=lift)[0], dtype=torch.float32)
    a = torch.rand(n, sim.nu) * 2 - 1
    return agent, instrument.value_expansion(agent), s, a


def test_eps_v_is_exact_where_q_is_known():
    """At γ = 0, Q^π = r and Q_H = r for every H and draw: a critic equal to r gives ε_v = 0; adding
    c Σ_j s_j gives ε_v = c √d_s at every state (raw) and c ‖scale‖ in units; the a-part is untouched."""
    sim = theory.Simulator("Hopper-v5")
    agent, vx, s, a = _eps_v_inputs(sim)
    scale = torch.linspace(0.5, 2.0, sim.obs_dim, dtype=torch.float64)
    spec = theory.EpsV(states=3, draws=2, horizons=(1, 4))
    for c, raw, units in ((0.0, 0.0, 0.0), (0.1, 0.1 * math.sqrt(sim.obs_dim), 0.1 * float(scale.norm()))):
        vx0 = dataclasses.replace(vx, gamma=0.0, critic=_RewardCritic(sim, c))
        with instrument.measuring(vx0):
            out, detail = theory.measure_eps_v(vx0, theory.SimulatorModel(sim), agent.terminal, s, a, s, a, scale,
                                               spec, 0, np.random.default_rng(0))
        for hh in spec.horizons:
            assert out[f"eps_v_clean_H{hh}"] == 1.0
            np.testing.assert_allclose(detail[f"eps_v_H{hh}"], raw, atol=1e-5)
            np.testing.assert_allclose(detail[f"eps_v_H{hh}_units"], units, atol=1e-5)
            assert out[f"eps_v_H{hh}"] == pytest.approx(raw, abs=1e-5)


def test_q_pathwise_matches_a_central_difference_of_q_h():
    """The backpropagated ∂Q_H/∂(s, a) (simulator Jacobians, policy, entropy, critic tail) against a
    central difference of the forward Q_H with the same ς, in double precision, without contact."""
    sim = theory.Simulator("Hopper-v5")
    agent, vx, s, a = _eps_v_inputs(sim, n=2)
    vx = dataclasses.replace(vx, alpha=0.2)
    for m in (vx.policy, vx.critic):
        m.double()
    s, a = s.double(), a.double()
    noise = vx.sample_noise(2, 2, torch.Generator().manual_seed(1), dtype=torch.float64)
    simm = theory.SimulatorModel(sim)
    with instrument.measuring(vx):
        _, dq_s, dq_a, bad = theory.q_pathwise(vx, simm, agent.terminal, s, a, noise, 3)
        eps = 1e-5

        def q(s_, a_):
            return theory.q_pathwise(vx, simm, agent.terminal, s_, a_, noise, 3)[0]
        fd_s = torch.stack([(q(s + eps * e, a) - q(s - eps * e, a)) / (2 * eps) for e in torch.eye(sim.obs_dim, dtype=s.dtype)], 1)
        fd_a = torch.stack([(q(s, a + eps * e) - q(s, a - eps * e)) / (2 * eps) for e in torch.eye(sim.nu, dtype=s.dtype)], 1)
    assert not bad.any()
    torch.testing.assert_close(dq_s, fd_s, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(dq_a, fd_a, rtol=1e-4, atol=1e-5)


def test_interval_is_scipys_bootstrap_of_the_data():
    """Resampling start-state indices gives the same BCa interval as bootstrapping the values."""
    x = np.random.default_rng(0).lognormal(size=20)
    ours = theory.interval(lambda idx: x[idx].mean(-1), len(x), np.random.default_rng(1))
    ref = stats.bootstrap((x,), np.mean, method="BCa", confidence_level=theory.LEVEL,
                          n_resamples=theory.N_RESAMPLES, rng=np.random.default_rng(1)).confidence_interval
    np.testing.assert_allclose(ours, ref, rtol=1e-12)
    assert all(math.isnan(v) for v in theory.interval(lambda idx: x[idx].mean(-1), 2, np.random.default_rng(1)))


def test_gradient_intervals_through_the_gram_matrix_equal_direct_resampling():
    rng = np.random.default_rng(2)
    g_m, g_s = torch.tensor(rng.normal(size=(6, 9))), torch.tensor(rng.normal(size=(6, 9)) + 1)
    out = {}
    theory._gradient_statistics(out, g_m, g_s, np.random.default_rng(3))
    gm, gs = g_m.numpy(), g_s.numpy()
    d = np.linalg.norm(gm.mean(0) - gs.mean(0))
    assert out["grad_distance"] == pytest.approx(d)
    assert out["grad_rel_distance"] == pytest.approx(d / np.linalg.norm(gs.mean(0)))
    direct = theory.interval(lambda idx: np.linalg.norm(gm[idx].mean(-2) - gs[idx].mean(-2), axis=-1), 6,
                             np.random.default_rng(3))
    np.testing.assert_allclose((out["grad_distance_lo"], out["grad_distance_hi"]), direct, rtol=1e-9)


def test_heavy_tail_flags_a_mean_carried_by_few_terms():
    rng = np.random.default_rng(4)
    assert not theory.heavy_tail(np.abs(rng.normal(5.0, 1.0, 32)))
    assert theory.heavy_tail(np.r_[np.ones(31), 1e3])


def test_measure_is_reproducible_from_its_seed():
    sim = theory.Simulator("Hopper-v5")
    torch.manual_seed(0)
    agent = make_agent(Config.tiny(h=2), 11, 3)
    states, _ = theory.contact_free_states(sim, 8, np.random.default_rng(5), lift=0.3)
    spec = theory.EpsV(states=2, draws=2, horizons=(1, 2))
    runs = [theory.measure(agent, states, sim, n=4, seed=seed, eps_v=spec)["summary"] for seed in (0, 0, 1)]
    for r in runs:
        for k in ("seconds", "cpu_seconds"):
            r.pop(k)
    assert json.dumps(runs[0]) == json.dumps(runs[1])
    assert runs[0]["eps_f_real"] != runs[2]["eps_f_real"]


def test_sweep_statistics_through_the_gram_matrices_equal_direct_resampling():
    rng = np.random.default_rng(4)
    g = rng.normal(size=(3, 7, 5)) + np.arange(3)[:, None, None]  # rows of ĝ_h at three h
    ref = rng.normal(size=(7, 5))
    kd = np.stack([(x - ref) @ (x - ref).T for x in g])
    kg = np.stack([x @ x.T for x in g])
    idx = rng.integers(0, 7, size=(11, 7))
    got = theory.sweep_statistics(kd, kg, 4, idx)
    gi, ri = g[:, idx], ref[idx]
    b = np.linalg.norm(gi.mean(-2) - ri.mean(-2), axis=-1).T
    v = ((gi - gi.mean(-2, keepdims=True)) ** 2).sum(-1).mean(-1).T
    np.testing.assert_allclose(got, np.stack([b, v, b ** 2 + v / 4], -2), rtol=1e-9, atol=1e-12)


def test_h_sweep_with_the_simulator_as_model_has_no_bias_at_the_reference_h():
    """f̂ = f: at h = H the model estimate is the reference row for row, so b(H) = 0; below H it is not."""
    agent, sim, states = _simulator_as_model()
    out = theory.h_sweep(agent, states, sim, (0, 2), n=4, seed=0)
    at = {r["h"]: r for r in out["rows"]}
    assert at[2]["bias"] <= 1e-5 * out["ref_norm"] and at[0]["bias"] > 1e-3 * out["ref_norm"]
    assert all(r["variance"] >= 0 and r["mse_lo"] <= r["mse"] <= r["mse_hi"] for r in out["rows"])
    assert sum(r["argmin_share"] for r in out["rows"]) == pytest.approx(1.0)


def test_cli_h_sweep(tiny_run, capsys):
    assert theory.main([str(tiny_run), "--hs", "0,2", "--samples", "3", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [r["h"] for r in out["rows"]] == [0, 2] and out["reference_H"] == 2 and out["h_best"] in (0, 2)
    for bad in ("0,x", "0"):
        assert theory.main([str(tiny_run), "--hs", bad]) == 2
        assert "--hs must be" in capsys.readouterr().err
