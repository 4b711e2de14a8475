"""Cold-import benchmark, the second section of ``make bench``. Prints; asserts nothing.

Every sample is a fresh interpreter (``python -c "import X"``): the process is cold, the
bytecode cache is warm for every module alike (as after ``pip install``). Modules alternate
inside every round; a round also times ``python -c pass`` so that the interpreter's own
start-up can be subtracted, and ratios are paired: computed within each round, then the
median over rounds is shown. ``-X importtime`` gives a second, in-process figure (the
cumulative time of the top-level module).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

MODULES = ("qstash_receiver", "qstash_receiver.adapters.aws_lambda", "qstash", "jwt")
BASELINE = "qstash_receiver"
ADAPTER = "qstash_receiver.adapters.aws_lambda"
#: What importing the Lambda adapter must not pull in (issue 3).
ADAPTER_FORBIDDEN = ("httpx", "asyncio")
HEAVY = ("httpx", "asyncio", "cryptography")
ROUNDS = 21


# Set by main(): bytecode for every module, ours and theirs alike, is written once to a
# private cache and read from there afterwards (PYTHONDONTWRITEBYTECODE would otherwise make
# some modules compile from source on every run and others not, depending on how they were
# installed).
_ENV: dict[str, str] = {}


def _run(code: str, *flags: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 (this interpreter, fixed code)
        [sys.executable, *flags, "-c", code], capture_output=True, text=True, env=_ENV, check=False
    )


def _wall(code: str) -> float:
    start = time.perf_counter()
    completed = _run(code)
    elapsed = time.perf_counter() - start
    if completed.returncode != 0:
        raise RuntimeError(completed.stderr.strip().splitlines()[-1])
    return elapsed * 1e3


def _importtime_us(module: str) -> int:
    completed = _run(f"import {module}", "-X", "importtime")
    for line in completed.stderr.splitlines():
        # "import time: self [us] | cumulative | imported package"
        parts = [part.strip() for part in line.removeprefix("import time:").split("|")]
        if len(parts) == 3 and parts[2] == module:
            return int(parts[1])
    return -1


def _heavy_imports(module: str) -> list[str]:
    code = f"import sys, json, {module}; print(json.dumps(sorted(sys.modules)))"
    loaded = set(json.loads(_run(code).stdout))
    return [name for name in HEAVY if name in loaded]


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="import-bench-") as cache:
        _ENV.clear()
        _ENV.update(os.environ)
        _ENV.pop("PYTHONDONTWRITEBYTECODE", None)
        _ENV["PYTHONPYCACHEPREFIX"] = cache
        _report()


def _report() -> None:
    modules = []
    for module in MODULES:
        completed = _run(f"import {module}")  # also fills the bytecode cache
        if completed.returncode == 0:
            modules.append(module)
        else:
            reason = (completed.stderr.strip().splitlines() or ["?"])[-1]
            print(f"skipping {module}: it does not import ({reason})")

    samples: dict[str, list[float]] = {name: [] for name in ["<start-up>", *modules]}
    importtime: dict[str, list[int]] = {name: [] for name in modules}
    for index in range(ROUNDS):
        order = ["<start-up>", *modules]
        shift = index % len(order)
        for name in order[shift:] + order[:shift]:
            samples[name].append(_wall("pass" if name == "<start-up>" else f"import {name}"))
    for index in range(ROUNDS // 3):
        for name in modules[index % len(modules) :] + modules[: index % len(modules)]:
            importtime[name].append(_importtime_us(name))

    startup = samples["<start-up>"]
    net = {name: [t - s for t, s in zip(samples[name], startup, strict=True)] for name in modules}

    def paired_median(name: str, other: str) -> float:
        return statistics.median(
            t / max(o, 1e-3) for t, o in zip(net[name], net[other], strict=True)
        )

    print(f"cold import, median of {ROUNDS} alternating rounds (fresh interpreter each)")
    print(f"interpreter start-up alone: {statistics.median(startup):.1f} ms\n")
    header = (
        f"{'module':<38} {'wall ms':>8} {'net ms':>7} {'-X importtime ms':>17} "
        f"{'net / ' + BASELINE:>22}  pulls in"
    )
    print(header)
    print("-" * len(header))
    for name in modules:
        ratio = f"{paired_median(name, BASELINE):.2f}x" if BASELINE in net else "-"
        pulled = ", ".join(_heavy_imports(name)) or "none of " + "/".join(HEAVY)
        print(
            f"{name:<38} {statistics.median(samples[name]):8.1f} "
            f"{statistics.median(net[name]):7.1f} "
            f"{statistics.median(importtime[name]) / 1e3:17.1f} "
            f"{ratio:>22}  {pulled}"
        )

    if ADAPTER in modules:
        print(f"\n{ADAPTER}, paired ratios of net cold-import time:")
        for other in ("qstash", "jwt"):
            if other in modules:
                print(f"  {ADAPTER} / {other}: {paired_median(ADAPTER, other):.2f}x")
        forbidden = [name for name in _heavy_imports(ADAPTER) if name in ADAPTER_FORBIDDEN]
        verdict = "MISS" if forbidden else "PASS"
        print(f"  {verdict}  `import {ADAPTER}` imports none of {', '.join(ADAPTER_FORBIDDEN)}")

    if BASELINE in modules:
        heavy = _heavy_imports(BASELINE)
        verdict = "MISS" if heavy else "PASS"
        print(
            f"\n  {verdict}  `import {BASELINE}` imports none of {', '.join(HEAVY)}"
            + (f" (it imports {', '.join(heavy)})" if heavy else "")
        )


if __name__ == "__main__":
    main()
