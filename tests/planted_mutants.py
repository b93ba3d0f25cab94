"""The hand-planted changes of issue 14, each applied to a copy of the tree; the bounds tests must fail.

``python tests/planted_mutants.py`` prints one line per change (caught / NOT CAUGHT) and exits 1 if
any passes. mutmut 3 mutates function bodies only, so the module-level ρ and κ' are covered here.
The checkout itself is never modified.
"""
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TESTS = ["tests/test_bounds_transcription.py", "tests/test_bounds_tightness.py",
         "tests/test_bounds_recursions.py", "tests/test_bounds_convergence.py",
         "tests/test_bounds_hstar.py", "tests/test_bounds_monotone.py"]

#: (what, file, old, new): the first occurrence of ``old`` is replaced.
PLANTED = [
    ("power of h raised in printed (5.3)", "bounds/bias.py", "h**4 * Lf_t**(3 * h)", "h**5 * Lf_t**(3 * h)"),
    ("κ' = β + κ(1 − β) changed to β + κ(1 + β)", "bounds/symbols.py",
     "kappa_prime = beta + kappa * (1 - beta)", "kappa_prime = beta + kappa * (1 + beta)"),
    ("κ' = β + κ(1 − β) changed to β + κ", "bounds/symbols.py",
     "kappa_prime = beta + kappa * (1 - beta)", "kappa_prime = beta + kappa"),
    ("sqrt removed from ρ", "bounds/variance.py", "rho = L_f * sp.sqrt(1 + L_pi**2)", "rho = L_f * (1 + L_pi**2)"),
    ("ρ loosened to L_f (1 + L_π)", "bounds/variance.py", "rho = L_f * sp.sqrt(1 + L_pi**2)", "rho = L_f * (1 + L_pi)"),
    ("power of k lowered in Lemma C.1 printed", "bounds/variance.py", "4 * lt * k**2", "4 * lt * k"),
    ("exponent of L̃_f doubled in (5.1)", "bounds/variance.py", "rate = Lf_t**(6 * h)", "rate = Lf_t**(12 * h)"),
    ("η/2 → η/4 in corrected Prop 5.2", "bounds/convergence.py",
     "c * (eta * G * b + eta / 2 * v)", "c * (eta * G * b + eta / 4 * v)"),
    ("η/2 → η in corrected Prop 5.2", "bounds/convergence.py",
     "c * (eta * G * b + eta / 2 * v)", "c * (eta * G * b + eta * v)"),
    ("ε(T)² → ε(T)³ in Cor 5.12", "bounds/convergence.py", "4 * eps_T**2 / T + C_conv", "4 * eps_T**3 / T + C_conv"),
    ("√T → T in Cor 5.12 (first term)", "bounds/convergence.py",
     "return 16 * delta * eps_T / sp.sqrt(T) + 4", "return 16 * delta * eps_T / T + 4"),
    ("√T → T in Cor 5.12 (O(1/√T) term)", "bounds/convergence.py", "C_conv / sp.sqrt(T)", "C_conv / T"),
]


def main():
    failed = 0
    with tempfile.TemporaryDirectory(prefix="rpcheck-planted-") as tmp:
        work = Path(tmp) / "tree"
        shutil.copytree(ROOT, work, ignore=shutil.ignore_patterns(".git", ".venv", "runs", "report", "figures",
                                                                   "__pycache__", ".hypothesis", "mutants"))
        for what, rel, old, new in PLANTED:
            path = work / rel
            orig = path.read_text()
            assert old in orig, (rel, old)
            path.write_text(orig.replace(old, new, 1))
            try:
                r = subprocess.run([sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *TESTS],
                                   cwd=work, capture_output=True, text=True,
                                   env={"PYTHONPATH": str(work), "OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"})
            finally:
                path.write_text(orig)
            caught = r.returncode == 1
            failed += not caught
            first = next((ln for ln in r.stdout.splitlines() if ln.startswith("FAILED")), r.stdout.splitlines()[-1:])
            print(f"{'caught' if caught else 'NOT CAUGHT'}: {what}   [{first}]", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
