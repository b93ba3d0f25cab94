"""``python -m verify.report [--quick] [--out DIR]``: every registered check, written down.

Writes ``DIR/report.md`` and ``DIR/report.json`` and the PNG figures each claim registers. The
report opens with the one-page answer: one row per claim of the paper (``claims.PAPER``: its
statement, the verdict in words, the smallest counterexample or the closest measurement, the
errata, the power), the instances they refer to, the power table (per claim and form: tightest
ratio measured/bound, structural controls caught) and the summary; then one table per section.
report.json holds ``answer``, ``instances``, ``power``, ``controls`` and ``checks`` (one
``CheckResult.to_json()`` each). Rows of form "identity" cannot fail; they are counted apart from
the measured checks. The checks are the ones the tests assert (``verify/claims.py`` imports them);
nothing here measures anything itself.
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

from verify import claims, instances  # noqa: E402  (claims registers the sections)
from verify.registry import ordered  # noqa: E402
from verify.stats import holm_per_claim  # noqa: E402
from verify.verdict import CheckResult, Control  # noqa: E402

WORD = {True: "holds", False: "**violated**", None: "inconclusive"}


def _fmt(x: float) -> str:
    return f"{x:.3g}" if math.isfinite(x) else str(x)


#: keys of ``CheckResult.instance`` that name the row within an instance, not the instance
ROW_KEYS = ("line", "h", "i", "t", "N", "bound", "estimator", "beta", "eta", "delta", "reading", "arm", "note")


def _name(r: CheckResult) -> str:
    i = r.instance
    return str(i.get("mdp") or (f"search: {i['family']}" if "family" in i else "unnamed"))


def instances_table(results: list[CheckResult]) -> dict[str, dict]:
    """Each instance name (``instance["mdp"]``) with its parameters: the spec of
    ``verify.instances`` where it is one, else the parameters all its rows share."""
    out: dict[str, dict] = {}
    for r in results:
        name = _name(r)
        params = {k: v for k, v in r.instance.items() if k != "mdp" and k not in ROW_KEYS}
        if name not in out:
            out[name] = params
        else:
            out[name] = {k: v for k, v in out[name].items() if params.get(k, object()) == v}
    for name in out.keys() & instances.SPECS.keys():
        out[name] = {k: v for k, v in instances.describe(name).items() if k != "mdp"}
    return out


def _row(r: CheckResult, shared: dict[str, dict]) -> str:
    name = _name(r)
    own = {k: v for k, v in r.instance.items() if k != "mdp" and shared.get(name, {}).get(k, object()) != v}
    inst = f"{name}: " + ", ".join(f"{k}={v}" for k, v in own.items()) if own else str(name)
    rel = "≤" if r.direction == "le" else "≥"
    return (f"| {r.form} | {inst} | {_fmt(r.measured)} | [{_fmt(r.ci[0])}, {_fmt(r.ci[1])}] | {rel} {_fmt(r.bound)} "
            f"| {_fmt(r.tightness)} | {row_word(r)} | {r.note} |")


def row_word(r: CheckResult) -> str:
    """The row's verdict in words, by its kind (``CheckResult``): an O-form row that holds says which
    constant it needs, one that fails says that no constant works."""
    if r.kind == "O" and r.holds is False:
        return "**refuted for every constant**" + (" (boundary defect)" if r.boundary_defect else " (growth)")
    if r.constant_needed is not None and r.holds is True:
        return f"not refuted (O-form: constant ≥ {_fmt(r.constant_needed)})"
    return WORD[r.holds] + ("" if r.holds_fwer == r.holds else f" (family-wise: {WORD[r.holds_fwer]})")


def ratio(r: CheckResult) -> float:
    """How close the measurement comes to the bound: measured/bound for "≤", bound/measured for
    "≥" (1 = on the bound; nan where either side is not positive: no scale to compare with)."""
    num, den = (r.measured, r.bound) if r.direction == "le" else (r.bound, r.measured)
    return num / den if den > 0 and num > 0 else math.nan


def tightest(rows: list[CheckResult]):
    """The holding row whose measurement comes closest to its bound (largest ``ratio``), or None; an
    O-form level row cannot fail where its bound is positive, so it shows no power and is left out."""
    held = [r for r in rows if r.holds is True and r.constant_needed is None and math.isfinite(ratio(r))]
    return max(held, key=ratio) if held else None


def _row_key(r: CheckResult) -> tuple:
    return r.claim, r.form, json.dumps(r.instance, sort_keys=True, default=str)


def split_controls(cs: list[Control], rows: list[CheckResult]) -> tuple[list[Control], list[Control]]:
    """Controls whose real check is one of ``rows`` (the claim's own), and those run on a reference
    instance instead (they show what the check can detect, not power on the claim)."""
    own = {_row_key(r) for r in rows}
    return [c for c in cs if _row_key(c.real) in own], [c for c in cs if _row_key(c.real) not in own]


def _reference(ref: list[Control]) -> dict:
    return {"reference_controls_caught": sum(c.caught for c in ref), "reference_controls": len(ref)}


def power_table(results: list[CheckResult], ctrls: list[Control]) -> list[dict]:
    """Per claim and form (identities excluded): measured checks, the tightest ratio measured/bound
    among the holding ones, and the structural controls caught / applied (applied where the real
    check holds)."""
    keys = sorted({(r.claim, r.form) for r in results if r.form != "identity"} | {(c.claim, c.form) for c in ctrls})
    out = []
    for claim, form in keys:
        rows = [r for r in results if (r.claim, r.form) == (claim, form)]
        cs, ref = split_controls([c for c in ctrls if (c.claim, c.form) == (claim, form) and c.real.holds is True], rows)
        t = tightest(rows)
        out.append({"claim": claim, "form": form, "checks": len(rows),
                    "tightest_ratio": None if t is None else ratio(t),
                    "tightest_on": None if t is None else _name(t),
                    "controls_caught": sum(c.caught for c in cs), "controls": len(cs),
                    "caught": sorted({c.change for c in cs if c.caught}),
                    "missed": sorted({c.change for c in cs if not c.caught} - {c.change for c in cs if c.caught}),
                    **_reference(ref)})
    return out


def _where(r: CheckResult) -> str:
    i = r.instance
    at = ", ".join(f"{k} = {i[k]}" for k in ("h", "i", "t", "eta", "beta", "arm") if k in i)
    return _name(r) + (f" ({at})" if at else "")


def _numbers(r: CheckResult) -> str:
    rel = "≤" if r.direction == "le" else "≥"
    ci = "" if r.ci[0] == r.ci[1] else f" [{_fmt(r.ci[0])}, {_fmt(r.ci[1])}]"
    return f"{_fmt(r.measured)}{ci} vs {rel} {_fmt(r.bound)}"


def _order(r: CheckResult) -> tuple:
    i = r.instance
    return tuple(float(i[k]) if isinstance(i.get(k), (int, float)) else math.inf for k in ("h", "i", "t"))


def _reading(r: CheckResult):
    """The reading of an ambiguous definition a row is taken under, if it names one."""
    return r.instance.get("convention") or r.instance.get("reading")


def form_words(rows: list[CheckResult]) -> str:
    """The verdict in words of one form's rows, from their kinds (family-wise verdicts): refuted for
    every constant (an O-form whose measured/f grows), false (an explicit inequality violated), a
    boundary defect only (an O-form's bound is 0 where the measurement is positive), inconclusive, not
    refuted with the smallest constant the rows need, or holds."""
    measured = [r for r in rows if r.kind != "identity"]
    if not measured:
        return "identities only (not evidence)"
    bad = [r for r in measured if r.holds_fwer is False]
    need = [r.constant_needed for r in measured if r.constant_needed is not None and r.holds is True]
    need_words = f"; smallest constant the rows need: {_fmt(max(need))}" if need else ""
    if any(r.kind == "O" and not r.boundary_defect for r in bad):
        return "refuted for every constant (measured/f grows without limit)"
    if any(r.kind != "O" for r in bad):
        return "false"
    if bad:
        return "boundary defect (bound 0 where the measurement is positive); not refuted elsewhere" + need_words
    if any(r.holds_fwer is None for r in measured):
        return "inconclusive"
    if need:
        return "not refuted" + need_words
    return "holds on every instance tried"


FORM_ORDER = ("printed", "explicit", "corrected")


def _words(rows: list[CheckResult]) -> str:
    """Per form, and within a form per kind where both an explicit and an O-form bound are tested."""
    parts = []
    for f in FORM_ORDER:
        rs = [r for r in rows if r.form == f and r.kind != "identity"]
        kinds = [k for k in ("explicit", "O", "qualitative") if any(r.kind == k for r in rs)]
        if len(kinds) > 1:
            parts += [f"{f} ({KIND_WORD[k]}): {form_words([r for r in rs if r.kind == k])}" for k in kinds]
        elif rs:
            parts.append(f"{f}: {form_words(rs)}")
    return "; ".join(parts) or "not measured"


KIND_WORD = {"explicit": "explicit inequality", "O": "O-form", "qualitative": "qualitative"}


def _strength(r: CheckResult) -> tuple:
    """Order of exhibits: a growth refutation, then a violated explicit inequality, then a boundary defect;
    within each the printed form first and the smallest h, i or t."""
    rank = 0 if r.kind == "O" and not r.boundary_defect else (1 if r.kind != "O" else 2)
    return (rank, FORM_ORDER.index(r.form) if r.form in FORM_ORDER else 3, *_order(r))


def _belongs(r: CheckResult, claims_: tuple[str, ...]) -> bool:
    """Whether a row tests one of ``claims_``: its own claim, or the adversary's row for it (``.search``)."""
    return r.claim in claims_ or r.claim.removesuffix(".search") in claims_


def answer(results: list[CheckResult], ctrls: list[Control]) -> list[dict]:
    """One entry per claim of ``claims.PAPER``: verdict in words per form (from the rows' kinds and
    family-wise verdicts, search rows included), the strongest exhibit against it (``_strength``) or
    the closest holding measurement, errata, power."""
    out = []
    for pc in claims.PAPER:
        own = [r for r in results if _belongs(r, pc.checks)]
        steps = [r for r in results if _belongs(r, pc.steps)]
        rows = [r for r in own + steps if r.kind != "identity"]
        readings = sorted({str(_reading(r)) for r in own if _reading(r)})
        if not rows:
            words = "not measured"
        elif readings and all(_reading(r) for r in own if r.form != "corrected"):
            words = "; ".join(f"{_words([r for r in own if str(_reading(r)) == x or r.form == 'corrected'])} ({x})"
                              for x in readings)
        else:
            words = _words(own)
        if steps:
            words += "; its proof steps: " + "; ".join(
                f"{c} {_words([r for r in steps if _belongs(r, (c,))])}" for c in pc.steps if any(_belongs(r, (c,)) for r in steps))
        bad = sorted((r for r in rows if r.holds_fwer is False), key=_strength)
        near = tightest(rows)
        cs, ref = split_controls([c for c in ctrls if c.claim in pc.checks + pc.steps and c.real.holds is True],
                                 rows)
        out.append({"claim": pc.name, "statement": pc.statement, "verdict": words,
                    "counterexample": None if not bad else {"instance": _where(bad[0]), "numbers": _numbers(bad[0]),
                                                            "form": bad[0].form, "kind": bad[0].kind,
                                                            "line": bad[0].instance.get("line")},
                    "closest": None if near is None else {"instance": _where(near), "numbers": _numbers(near),
                                                          "form": near.form, "ratio": ratio(near)},
                    "errata": list(pc.errata), "tightest_ratio": None if near is None else ratio(near),
                    "tightest_row": None if near is None else f"{near.claim} [{near.form}] on {_where(near)}",
                    "controls_caught": sum(c.caught for c in cs), "controls": len(cs), **_reference(ref),
                    "checks": len(rows), "violated": sum(r.holds is False for r in rows),
                    "violated_fwer": sum(r.holds_fwer is False for r in rows),
                    "inconclusive": sum(r.holds is None for r in rows),
                    "not_refuted_O": sum(r.constant_needed is not None and r.holds is True for r in rows)})
    return out


def _answer_md(ans: list[dict], inst: dict[str, dict], power: list[dict]) -> list[str]:
    lines = ["## The answer, claim by claim", "",
             "Verdicts per form, from the kind of statement each row tests (docs/errata.md, \"Readings\"): an "
             "explicit inequality is false when an interval clears its bound; an O(·) statement is refuted for "
             "every constant only when measured/f grows without limit inside its hypotheses, has a boundary "
             "defect where f is 0 and the measurement is not, and is otherwise not refuted, with the smallest "
             "constant its rows need; identities are not evidence. Violations count family-wise (Holm at 1 % "
             "per claim, search rows included). Exhibit: the strongest row against the claim (a growth "
             "refutation, then a violated explicit inequality, then a boundary defect). Closest: the holding "
             "row whose measurement comes nearest its bound (O-form level rows, which cannot fail, left out). "
             "Power: that ratio, and structural controls (the bound with one careless-derivation change) "
             "caught / applied.", "",
             "| claim | statement | verdict | strongest exhibit / closest to the bound | errata | power |",
             "|---|---|---|---|---|---|"]
    for a in ans:
        if a["counterexample"]:
            c = a["counterexample"]
            ex = f"**{c['instance']}**: {c['numbers']} ({c['form']}{'; ' + c['line'] if c['line'] else ''})"
        elif a["closest"]:
            c = a["closest"]
            ex = f"closest: {c['instance']}: {c['numbers']} ({c['form']}, ratio {c['ratio']:.3g})"
        else:
            ex = "—"
        pw = ("—" if a["tightest_ratio"] is None else f"ratio {a['tightest_ratio']:.3g} ({a['tightest_row']})") + \
            (f"; controls {a['controls_caught']}/{a['controls']}" if a["controls"] else "; no structural controls") + \
            (f" (on a reference instance, not the claim's rows: {a['reference_controls_caught']}/"
             f"{a['reference_controls']})" if a["reference_controls"] else "")
        lines.append(f"| {a['claim']} | {a['statement']} | {a['verdict']} ({a['checks']} checks: {a['violated']} violated, "
                     f"{a['violated_fwer']} family-wise, {a['inconclusive']} inconclusive, {a['not_refuted_O']} O-form "
                     f"rows not refuted) | {ex} | {', '.join(a['errata']) or '—'} | {pw} |")
    lines += ["", "## Instances", "", "| name | parameters |", "|---|---|"]
    lines += [f"| {name} | {', '.join(f'{k}={v}' for k, v in p.items())} |" for name, p in sorted(inst.items())]
    lines += ["", "## Power (per claim and form)", "",
              "Tightest ratio measured/bound among the holding checks (1 = on the bound); structural controls "
              "caught / applied where the real check holds, with the changes caught and those never caught.", "",
              "| claim | form | checks | tightest ratio | on | controls caught | caught | never caught |",
              "|---|---|---|---|---|---|---|---|"]
    for p in power:
        t = "—" if p["tightest_ratio"] is None else f"{p['tightest_ratio']:.3g}"
        lines.append(f"| {p['claim']} | {p['form']} | {p['checks']} | {t} | {p['tightest_on'] or '—'} | "
                     f"{p['controls_caught']}/{p['controls']}"
                     + (f" (+ {p['reference_controls_caught']}/{p['reference_controls']} on a reference instance)"
                        if p["reference_controls"] else "")
                     + f" | {'; '.join(p['caught']) or '—'} | {'; '.join(p['missed']) or '—'} |")
    return lines + [""]


def _summary(results: list[CheckResult]) -> list[str]:
    """One line per claim and form: how many checks hold, are violated, are inconclusive;
    identities (rows that cannot fail) counted apart."""
    measured = [r for r in results if r.form != "identity"]
    n = {k: sum(r.holds is k for r in measured) for k in (True, False, None)}
    o_level = sum(r.constant_needed is not None and r.holds is True for r in measured)
    keys = sorted({(r.claim, r.form) for r in results})
    lines = ["## Summary", "",
             f"{len(measured)} measured checks: {n[True]} hold ({o_level} of them O-form level rows, which cannot "
             f"fail where their bound is positive: not refuted, with the constant they need), {n[False]} violated, "
             f"{n[None]} inconclusive; "
             f"{len(results) - len(measured)} identities (algebraic truths, form \"identity\", not measurements).", "",
             "| claim | form | checks | hold | violated | inconclusive |", "|---|---|---|---|---|---|"]
    for claim, form in keys:
        rs = [r for r in results if (r.claim, r.form) == (claim, form)]
        k = {v: sum(r.holds is v for r in rs) for v in (True, False, None)}
        lines.append(f"| {claim} | {form} | {len(rs)} | {k[True]} | {k[False]} | {k[None]} |")
    return lines + [""]


def write(out: Path, quick: bool) -> tuple[list[CheckResult], list[str]]:
    """Run every section and write the report; the files are rewritten after each section, so a
    crash or an interrupt keeps what was measured. Returns the results and the failed sections."""
    out.mkdir(parents=True, exist_ok=True)
    sections = ordered()
    all_results: list[CheckResult] = []
    all_controls: list[Control] = []
    failed: list[str] = []
    head = [f"# rpcheck verification report ({'quick' if quick else 'full'} configuration)", ""]
    body: list = []  # markdown lines, or (title, results, figures, controls) of a section
    t0 = time.time()
    steps = sum(1 + len(s.figures) + len(s.controls) for s in sections)
    with tqdm(total=steps, desc="verify.report", unit="step") as bar:
        for s in sections:
            bar.set_postfix_str(s.claim)
            try:
                results = s.results(quick)
                bar.update()
                figs, ctrls = [], []
                for fig in s.figures:
                    figs += fig(quick, out)
                    bar.update()
                for fn in s.controls:
                    ctrls += fn(quick)
                    bar.update()
            except Exception as e:  # one broken section must not cost the others their results
                failed.append(s.claim)
                body += [f"## {s.title}", "", f"**This section failed:** `{type(e).__name__}: {e}`", ""]
                tqdm.write(f"verify.report: section {s.claim} failed: {type(e).__name__}: {e}")
            else:
                all_results += results
                all_controls += ctrls
                body.append((s.title, results, figs, ctrls))
            _write(out, quick, head, all_results, all_controls, body, time.time() - t0)
    return all_results, failed


def _write(out: Path, quick: bool, head: list[str], results: list[CheckResult], ctrls: list[Control],
           body: list, seconds: float) -> None:
    results = holm_per_claim(results)  # the one place Holm is applied: ``holds_fwer`` per claim
    inst, power, ans = instances_table(results), power_table(results, ctrls), answer(results, ctrls)
    md = head + _answer_md(ans, inst, power) + _summary(results)
    for part in body:
        if isinstance(part, str):
            md.append(part)
            continue
        title, rows, figs, cs = part
        counts = {w: sum(r.holds is k for r in rows) for k, w in WORD.items()}
        md += [f"## {title}", "",
               f"{len(rows)} checks: {counts['holds']} hold, {counts['**violated**']} violated, "
               f"{counts['inconclusive']} inconclusive"
               + (f"; {sum(c.caught for c in cs)} of {sum(c.real.holds is True for c in cs)} structural controls caught" if cs else "")
               + ". Each row: one claim in one form on one instance (its parameters in the Instances table; the "
               "row lists only what it adds), the measured value with its confidence interval (level in "
               "report.json), the bound, tightness = bound / measured, the verdict (holds: the interval lies on "
               "the bound's side; violated: on the other; inconclusive: it straddles).", "",
               "| form | instance | measured | CI | bound | tightness | verdict | note |",
               "|---|---|---|---|---|---|---|---|"]
        md += [_row(r, inst) for r in rows]
        md += [""] + [f"![{p.stem}]({p.name})" for p in figs] + [""]
    md.append(f"_Generated in {seconds:.0f} s ({'quick' if quick else 'full'} configuration)._")
    (out / "report.md").write_text("\n".join(md) + "\n")
    doc = {"answer": ans, "instances": inst, "power": power, "controls": [c.to_json() for c in ctrls],
           "checks": [r.to_json() for r in results]}
    (out / "report.json").write_text(json.dumps(doc, indent=1, default=_json_default) + "\n")


def _json_default(x):
    return x if isinstance(x, (int, float, str)) else str(x)


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
