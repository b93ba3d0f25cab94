"""``verify.hstar``: the exact argmin of g(h) of (C.28) on an LQR instance, its CLI and its bad inputs."""
import json
import subprocess
import sys

import numpy as np
import pytest

from bounds import hstar as BH
from toy_mdps.lqr_exact import moments
from verify import hstar as VH, search
from verify.section5 import prop5_10, prop5_8

RUNG = (0.05, 2.0)  # a Prop 5.10 rung where the exact argmin is 4 (test_prop5_10.test_exact_argmins)


def rung_instance(eps_f, delta_v):
    """The ``verify.search`` LQR JSON of ``prop5_8.problem(eps_f, delta_v)``, dH read off its critic."""
    p = prop5_8.problem(eps_f, delta_v)
    return {"family": "lqr-uniform", "d_s": 1, "d_a": 1, "A": p.A.tolist(), "B": p.B.tolist(),
            "K": p.K.tolist(), "A_hat": p.A_hat.tolist(), "B_hat": p.B_hat.tolist(),
            "dH": (p.critic.H.numpy() - p.q_form()[0]).tolist(), "sigma": p.sigma,
            "noise_factor": p.L_xi.tolist(), "init_factor": p.L_0.tolist(), "gamma": p.gamma, "h": 0,
            "beta": 0.0, "estimator": "dp"}


#: a 2-d instance with model error in A and B, critic error, RP-DR and β > 0 (exact argmin 8 of 0..10)
INST_2D = {"family": "lqr-uniform", "d_s": 2, "d_a": 2, "A": [[0.6, 0.2], [-0.1, 0.5]], "B": [[0.5, 0.0], [0.1, 0.4]],
           "K": [[-0.3, 0.1], [0.0, -0.2]], "A_hat": [[0.7, 0.2], [-0.1, 0.6]], "B_hat": [[0.6, 0.05], [0.1, 0.4]],
           "dH": [[0.2, 0.1, 0.0, 0.0], [0.1, -0.1, 0.0, 0.05], [0.0, 0.0, 0.1, 0.0], [0.0, 0.05, 0.0, 0.0]],
           "sigma": 0.2, "noise_factor": [[0.1, 0.0], [0.02, 0.1]], "init_factor": [[0.5, 0.0], [0.1, 0.4]],
           "gamma": 0.8, "h": 3, "beta": 0.3, "estimator": "dr"}


def brute_force_g(p, H, beta, estimator, eta, L, delta, N):
    """g(h) = (δ b + η/2 v)/(η − Lη²) + b² + v, v = v_t(1)/N, from lqr_exact's b_t, v_t(1), h = 0..H."""
    g = []
    for h in range(H + 1):
        m = moments(p, h, beta, estimator)
        b, v = np.linalg.norm(m.true_grad - m.mean), np.trace(m.cov) / N
        g.append((delta * b + eta / 2 * v) / (eta - L * eta * eta) + b * b + v)
    return g


def test_keys_are_those_of_verify_search():
    x = {v.name: v.low for v in search.LQR_VARS}
    assert VH.KEYS == tuple(search.lqr_instance(x))


def test_rung_instance_builds_the_rungs_problem():
    p, beta, est = VH.problem(rung_instance(*RUNG))
    q = prop5_8.problem(*RUNG)
    assert (beta, est) == (prop5_10.BETA, prop5_10.EST)
    assert np.allclose(p.critic.H.numpy(), q.critic.H.numpy(), rtol=0, atol=1e-12)
    assert np.allclose(p.L_xi, q.L_xi) and np.allclose(p.L_0, q.L_0) and p.eps_f() == pytest.approx(q.eps_f())


@pytest.mark.parametrize("inst,step", [
    (rung_instance(*RUNG), dict(eta=0.1, L=1.0, delta=1.0, N=16, H=20)),
    (rung_instance(*RUNG), dict(eta=0.05, L=3.0, delta=0.3, N=3, H=12)),
    (INST_2D, dict(eta=0.02, L=2.0, delta=2.0, N=8, H=10)),
], ids=["rung-prop5_10-constants", "rung-other-constants", "2d-dr-beta"])
def test_exact_argmin_against_brute_force(inst, step):
    p, beta, estimator = VH.problem(inst)
    r = VH.exact_hstar(p, beta, estimator, **step)
    g = brute_force_g(p, step["H"], inst["beta"], inst["estimator"], step["eta"], step["L"], step["delta"], step["N"])
    best = min(range(len(g)), key=lambda h: (g[h], h))
    assert 0 < best < step["H"]  # an interior minimum: the comparison is not decided by monotonicity
    assert r["h_exact"] == r["recommended_h"] == best
    assert np.allclose(r["g"], g, rtol=1e-12, atol=0)
    lo, hi = r["h_paper_integers"]
    assert r["regret"] == pytest.approx([min(g[lo:hi + 1]) - g[best], max(g[lo:hi + 1]) - g[best]], rel=1e-12)


def test_exact_argmin_on_the_rung_is_prop5_10s():
    """At prop5_10's η, L, δ, N the exact argmin is the rung's ĥ = 4 and h_paper its recorded printed bound."""
    r = VH.exact_hstar(*VH.problem(rung_instance(*RUNG)))
    assert r["h_exact"] == prop5_10.rung(*RUNG).h_best == 4
    assert r["h_paper"][1] == pytest.approx(0.14726, rel=1e-4)  # test_prop5_10.RECORDED, rung 2
    assert r["h_paper_integers"] == [0, 1] and r["regret"][0] > 0


def test_without_model_error_h_paper_is_null():
    """ε_f = 0: Prop 5.10's ε_v/ε_f has no value; the exact argmin is still given."""
    inst = {**rung_instance(*RUNG), "A_hat": [[0.8]]}
    r = VH.exact_hstar(*VH.problem(inst), H=8)
    assert r["eps_f"] == 0 and r["h_paper"] is r["h_paper_integers"] is r["regret"] is None
    assert r["h_exact"] == int(np.argmin(r["g"]))


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "verify.hstar", *args], capture_output=True, text=True, timeout=120)


def test_cli_json_fields():
    inst = rung_instance(*RUNG)
    r = run_cli("--instance", json.dumps(inst), "--eta", "0.1", "--L", "1", "--delta", "1", "--N", "16", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert isinstance(out["recommended_h"], int) and out["recommended_h"] == out["h_exact"] == 4
    assert isinstance(out["basis"], str) and "\n" not in out["basis"] and "(C.28)" in out["basis"]
    assert out["h"] == list(range(21)) and len(out["g"]) == len(out["b"]) == len(out["v"]) == 21
    assert out["h_exact_at_edge"] is False and out["inputs"]["N"] == 16
    p, _, _ = VH.problem(inst)
    want = [BH.h_star_paper_np(**prop5_10.params(p, e, 16)) for e in prop5_10.eps_v_range(p)]
    assert out["h_paper"] == pytest.approx(want, rel=1e-12) and out["eps_f"] == pytest.approx(0.05)
    g = np.array(out["g"])
    assert out["regret"] == pytest.approx([g[:2].min() - g[4], g[:2].max() - g[4]], rel=1e-12)


def test_cli_table_opens_with_the_recommendation():
    r = run_cli("--instance", json.dumps(rung_instance(*RUNG)), "--H", "6")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].startswith("recommended h = 4: exact argmin over h = 0..6 of g(h) of (C.28)")
    assert any(line.split()[:1] == ["4"] and "h_exact" in line for line in lines)


def _with(**change):
    return json.dumps({**rung_instance(*RUNG), **change})


@pytest.mark.parametrize("args", [
    ["--instance", "{"], ["--instance", "[1, 2]"], ["--instance", _with(foo=1)],
    ["--instance", json.dumps({"A": [[0.8]]})], ["--instance", _with(family="lqr-hstar")],
    ["--instance", _with(gamma=1.5)], ["--instance", _with(beta=2)], ["--instance", _with(estimator="zz")],
    ["--instance", _with(A=[[3.0]])], ["--instance", _with(A="x")], ["--instance", _with(d_s=2)],
    ["--instance", _with(dH=[[1.0]])], ["--instance", _with(sigma=None)],
    ["--instance", _with(), "--N", "0"], ["--instance", _with(), "--N", "2.5"],
    ["--instance", _with(), "--eta", "0"], ["--instance", _with(), "--eta", "-1"],
    ["--instance", _with(), "--eta", "2"], ["--instance", _with(), "--L", "nan"],
    ["--instance", _with(), "--delta", "0"], ["--instance", _with(), "--H", "-1"],
    ["--instance", _with(), "--H", "0"], ["--instance", _with(beta="x")], [],
], ids=lambda a: " ".join(a)[:60])
def test_bad_input_exits_2_with_one_line(args, capsys):
    with pytest.raises(SystemExit) as exc:
        VH.main(args)
    assert exc.value.code == 2
    out = capsys.readouterr()
    assert out.out == "" and len(out.err.strip().splitlines()) == 1 and out.err.startswith("verify.hstar: error:")


def test_bad_input_in_a_real_process():
    r = run_cli("--instance", _with(foo=1))
    assert r.returncode == 2 and r.stdout == "" and "Traceback" not in r.stderr
    assert r.stderr.strip().splitlines() == [f"verify.hstar: error: bad instance: unknown instance keys ['foo'] "
                                             f"(allowed: {', '.join(VH.KEYS)})"]


def test_probe_fit_recovers_its_own_shape():
    """fit_approach on exact values of α + β_γ γ^h + β_λ λ^h (λ on its grid) returns them; extrapolated, the
    curve is reproduced at h = 4..30."""
    g, lam = 0.9, 0.75
    hs = np.arange(4)
    y = 0.3 - 0.2 * g ** hs + 0.05 * lam ** hs
    (a, b_g, b_l), l_fit = VH.fit_approach(hs, y, g)
    assert l_fit == pytest.approx(lam) and (a, b_g, b_l) == pytest.approx((0.3, -0.2, 0.05), abs=1e-9)
    h = np.arange(31)
    assert VH.extrapolate(((a, b_g, b_l), l_fit), g, 30) == pytest.approx(0.3 - 0.2 * g ** h + 0.05 * lam ** h)


def test_probes_at_h_up_to_3_predict_the_ladder_within_one():
    """From exact b_t, v_t at h = 0..3 only, h_predicted is within ±1 of the exact argmin on every quick rung."""
    for ef, dv in prop5_10.QUICK.rungs:
        r = prop5_10.rung(ef, dv)
        h = VH.predict([0, 1, 2, 3], r.b[:4], r.v1[:4], r.problem.gamma, 20, prop5_10.ETA, prop5_10.L_SMOOTH,
                       prop5_10.DELTA, prop5_10.N)
        assert abs(h - r.h_best) <= 1, (ef, dv, h, r.h_best)


def test_cli_probes(capsys):
    assert VH.main(["--instance", json.dumps(rung_instance(*RUNG)), "--probes", "0,1,2,3", "--samples", "2000", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    q = out["probe"]
    assert q["probes"] == [0, 1, 2, 3] and q["samples_per_probe"] == 2000 and q["interval"][0] <= q["interval"][1]
    for bad in (["--probes", "0,1,2"], ["--probes", "a,b"], ["--probes", "0,1,2,99"]):
        with pytest.raises(SystemExit) as e:
            VH.main(["--instance", json.dumps(rung_instance(*RUNG)), *bad])
        assert e.value.code == 2
        assert capsys.readouterr().err.count("\n") == 1
