"""Copy a run's small text files to ``docs/runs/NAME/`` for committing (issue 15, §4):

    python -m trainers.publish runs/NAME [--to docs/runs] [--name NAME]

Copies ``config.json``, ``run.json``, ``metrics.csv``, and ``gradvar.csv`` and ``theory.csv`` where
the run has them; never the checkpoint, the buffer or TensorBoard events. ``trainers.figures docs/runs`` reads the
result. A run without config.json, run.json or metrics.csv is refused with one line (exit 2).
"""
from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

REQUIRED = ("config.json", "run.json", "metrics.csv")
OPTIONAL = ("gradvar.csv", "theory.csv")


def publish(run: Path, to: Path, name: str | None = None) -> Path:
    missing = [f for f in REQUIRED if not (run / f).is_file()]
    if missing:
        raise ValueError(f"{run} lacks {', '.join(missing)}")
    dest = to / (name or run.name)
    dest.mkdir(parents=True, exist_ok=True)
    for f in REQUIRED + OPTIONAL:
        if (run / f).is_file():
            shutil.copyfile(run / f, dest / f)
    return dest


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m trainers.publish", description=__doc__.split("\n\n")[0])
    p.add_argument("run", type=Path)
    p.add_argument("--to", type=Path, default=Path("docs/runs"))
    p.add_argument("--name", default=None, help="default: the run directory's name")
    args = p.parse_args(argv)
    try:
        dest = publish(args.run, args.to, args.name)
    except (ValueError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"wrote {dest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
