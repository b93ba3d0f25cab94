"""``python -m verify.report [--quick] [--out DIR]``: every registered check, written down.

Writes ``DIR/report.md`` (a verdict table per claim), ``DIR/report.json`` (one
``CheckResult.to_json()`` per check) and the PNG figures each claim registers. The checks are the
ones the tests assert (``verify/claims.py`` imports them); nothing here measures anything itself.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import torch  # noqa: E402
from tqdm import tqdm  # noqa: E402

from verify import claims  # noqa: E402,F401  (registers the sections)
from verify.registry import ordered  # noqa: E402
from verify.verdict import CheckResult  # noqa: E402

WORD = {True: "holds", False: "**violated**", None: "inconclusive"}


def _fmt(x: float) -> str:
    return f"{x:.3g}" if math.isfinite(x) else str(x)


def _row(r: CheckResult) -> str:
    inst = ", ".join(f"{k}={v}" for k, v in r.instance.items())
    rel = "≤" if r.direction == "le" else "≥"
    return (f"| {r.form} | {inst} | {_fmt(r.measured)} | [{_fmt(r.ci[0])}, {_fmt(r.ci[1])}] | {rel} {_fmt(r.bound)} "
            f"| {_fmt(r.tightness)} | {WORD[r.holds]} | {r.note} |")


def _summary(results: list[CheckResult]) -> list[str]:
    """One line per claim and form: how many checks hold, are violated, are inconclusive."""
    keys = sorted({(r.claim, r.form) for r in results})
    lines = ["## Summary", "", "| claim | form | checks | hold | violated | inconclusive |", "|---|---|---|---|---|---|"]
    for claim, form in keys:
        rs = [r for r in results if (r.claim, r.form) == (claim, form)]
        n = {k: sum(r.holds is k for r in rs) for k in (True, False, None)}
        lines.append(f"| {claim} | {form} | {len(rs)} | {n[True]} | {n[False]} | {n[None]} |")
    return lines + [""]


def write(out: Path, quick: bool) -> tuple[list[CheckResult], list[str]]:
    """Run every section and write the report; the files are rewritten after each section, so a
    crash or an interrupt keeps what was measured. Returns the results and the failed sections."""
    out.mkdir(parents=True, exist_ok=True)
    sections = ordered()
    all_results: list[CheckResult] = []
    failed: list[str] = []
    head = [f"# rpcheck verification report ({'quick' if quick else 'full'} configuration)", "",
            "Each row holds one claim in one form on one instance: the measured value with its confidence "
            "interval (level in report.json), the bound, tightness = bound / measured, and the verdict "
            "(holds: the interval lies on the bound's side; violated: on the other; inconclusive: it straddles).", ""]
    body: list[str] = []
    t0 = time.time()
    steps = sum(1 + len(s.figures) for s in sections)
    with tqdm(total=steps, desc="verify.report", unit="step") as bar:
        for s in sections:
            bar.set_postfix_str(s.claim)
            try:
                results = s.results(quick)
                bar.update()
                figs = []
                for fig in s.figures:
                    figs += fig(quick, out)
                    bar.update()
            except Exception as e:  # one broken section must not cost the others their results
                failed.append(s.claim)
                body += [f"## {s.title}", "", f"**This section failed:** `{type(e).__name__}: {e}`", ""]
                tqdm.write(f"verify.report: section {s.claim} failed: {type(e).__name__}: {e}")
            else:
                all_results += results
                counts = {w: sum(r.holds is k for r in results) for k, w in WORD.items()}
                body += [f"## {s.title}", "",
                         f"{len(results)} checks: {counts['holds']} hold, {counts['**violated**']} violated, "
                         f"{counts['inconclusive']} inconclusive.", "",
                         "| form | instance | measured | CI | bound | tightness | verdict | note |",
                         "|---|---|---|---|---|---|---|---|"]
                body += [_row(r) for r in results]
                body += [""] + [f"![{p.stem}]({p.name})" for p in figs] + [""]
            md = head + _summary(all_results) + body + [f"_Generated in {time.time() - t0:.0f} s._"]
            (out / "report.md").write_text("\n".join(md) + "\n")
            (out / "report.json").write_text(json.dumps([r.to_json() for r in all_results], indent=1) + "\n")
    return all_results, failed


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="the smaller configuration of the default pytest run")
    p.add_argument("--out", type=Path, default=Path("report"), help="output directory (default: report/)")
    args = p.parse_args(argv)
    # small float64 toy problems: intra-op threads cost more than they save (as in conftest.py)
    torch.set_num_threads(1)
    try:
        args.out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        p.error(f"cannot write to --out {args.out}: {e.strerror}")
    results, failed = write(args.out, args.quick)
    n = {k: sum(r.holds is k for r in results) for k in (True, False, None)}
    print(f"{len(results)} checks: {n[True]} hold, {n[False]} violated, {n[None]} inconclusive -> {args.out}/report.md")
    if failed:
        print(f"sections that failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
