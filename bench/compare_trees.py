"""An older tree against this one, side by side in one run. Not a test: it prints, asserts nothing.

    git worktree add /tmp/base <rev> && make -C /tmp/base install
    .venv/bin/python bench/compare_trees.py /tmp/base     # --new PATH: another tree than this

Each run alternates the two trees (which goes first rotates), each in its own venv
(``<tree>/.venv``): the core's ``verify()`` table of ``bench/verify_bench.py`` and the adapter
table of ``bench/adapter_bench.py``. Per row the figure is the minimum over runs of each run's
own minimum, so noise hits both trees alike; the per-request figures are the microseconds the
adapter adds over the same app unverified, and the core ones ours/floor (the floor is the
stdlib work a verifier cannot avoid, timed in the same process).
"""

from __future__ import annotations

import argparse
import re
import subprocess
from collections.abc import Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
#: Runs verify_bench's own table only (the other benchmarks it chains to are switched off).
CORE = """
import importlib, sys
sys.argv, sys.path[:0] = ["verify_bench"], ["bench"]
for chained in ("adapter_bench", "import_bench", "telemetry_bench"):
    try:
        importlib.import_module(chained).main = lambda *args, **kwargs: None
    except ImportError:  # an older tree without it
        pass
import verify_bench
verify_bench.main()
"""
ADAPTER_ROW = re.compile(r"^(\S.{0,28}?)\s+\|\s+([\d.]+)\s+([\d.]+)\s+\|\s+(-?[\d.]+)\s")
CORE_ROW = re.compile(r"^\s*(\d+ \w+)\s+(current|next)\s+\|\s+([\d.]+)\s+([\d.]+)\s")

Figures = dict[str, float]


def run(tree: Path, code: str | None, rounds: int) -> str:
    python = str(tree / ".venv" / "bin" / "python")
    if code is None:
        args = [python, "bench/adapter_bench.py", "--rounds", str(rounds)]
    else:
        args = [python, "-c", code]
    done = subprocess.run(  # noqa: S603 (the two trees' own interpreters, fixed code)
        args, cwd=tree, capture_output=True, text=True, check=True
    )
    return done.stdout


def adapters(output: str) -> Figures:
    """Microseconds added per request, by row."""
    found = (ADAPTER_ROW.match(line) for line in output.splitlines())
    return {m[1].strip(): float(m[4]) for m in found if m is not None}


def core(output: str) -> Figures:
    """ours / floor per body size and key."""
    found = (CORE_ROW.match(line) for line in output.splitlines())
    return {f"{m[1]} {m[2]}": float(m[4]) / float(m[3]) for m in found if m is not None}


def best(into: dict[str, Figures], tree: str, figures: Figures) -> None:
    mine = into.setdefault(tree, {})
    for row, value in figures.items():
        mine[row] = min(value, mine.get(row, value))


def table(title: str, old: Figures, new: Figures, unit: str) -> None:
    print(f"\n{title}\n{'row':<30} | {'old':>8} {'new':>8} | {'new-old':>8} {unit}")
    for row in new:
        if row in old:
            print(f"{row:<30} | {old[row]:8.2f} {new[row]:8.2f} | {new[row] - old[row]:+8.2f}")
        else:
            print(f"{row:<30} | {'-':>8} {new[row]:8.2f} |  (new row)")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("old", type=Path, help="the older tree (with its own .venv)")
    parser.add_argument("--new", type=Path, default=HERE, help="the newer tree (default: this one)")
    parser.add_argument("--runs", type=int, default=4, help="runs of each tree (alternating)")
    parser.add_argument(
        "--rounds",
        type=int,
        default=41,
        help="rounds per adapter run (the core table keeps verify_bench's own)",
    )
    options = parser.parse_args(argv)
    trees = {"old": options.old.resolve(), "new": options.new.resolve()}
    added: dict[str, Figures] = {}
    ratios: dict[str, Figures] = {}
    for number in range(options.runs):
        order = ("old", "new") if number % 2 == 0 else ("new", "old")
        for name in order:
            best(ratios, name, core(run(trees[name], CORE, options.rounds)))
            best(added, name, adapters(run(trees[name], None, options.rounds)))
        print(f"run {number + 1}/{options.runs} done", flush=True)
    print(f"\nold: {trees['old']}\nnew: {trees['new']}\n{options.runs} runs of each, alternating")
    table("verify(): ours / floor (lower is better)", ratios["old"], ratios["new"], "x")
    table("adapters: us added per request (min over runs)", added["old"], added["new"], "us")


if __name__ == "__main__":
    main()
