"""``make demo`` (``python samples/demo/run_demo.py``): migration mode, and receiving.

Part 1, in one process: resolve a migration-mode configuration with the built-in demo keys,
sign deliveries as each region, verify them, and show forgeries rejected with their reason.
Part 2, end to end: the two-region stand-in and every sample on real local servers; genuine
messages published through both regions, forged ones sent straight to each endpoint.
Part 3, at-least-once receiving on the Flask, Django and Lambda samples: a duplicate handled
once, a non-retryable error dead-lettered, its failure callback received.
Part 4, draining the old region: an EU_CENTRAL_1 schedule deleted, its last message delivered,
and ``qstash-receiver migrate status`` turning from "not drained" to "drained".
Exit status 0 only when every delivery got the expected answer.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from qstash_receiver import names as E
from qstash_receiver.answers import Answer, answer_for
from qstash_receiver.cli import doctor
from qstash_receiver.config import load_config
from qstash_receiver.errors import QStashError
from qstash_receiver.testing import DEMO_ENV
from qstash_receiver.verify import Receiver

from .cases import FORGED, forge

__all__ = ["end_to_end", "in_process", "main"]

_URL = "https://example.com/api/qstash"
ROOT = Path(__file__).resolve().parents[3]  # samples/demo/qstash_demo/runner.py


def _check(receiver: Receiver, headers: dict[str, str], body: bytes) -> tuple[int, str]:
    try:
        result = receiver.verify_request(headers, body, url=_URL)
    except QStashError as error:
        answer: Answer = answer_for(error)
        return answer.status, answer.reason
    return 200, f"verified with {result.key_region} keys ({result.key_used} key)"


def in_process(root: Path = ROOT) -> bool:
    """Part 1; True when every case got the expected verdict."""
    print("== Part 1: in one process, migration mode with the built-in demo keys ==\n")
    config = load_config(DEMO_ENV)
    doctor.report(config, DEMO_ENV)
    receiver = Receiver(config=config)
    print("\nregion        case                expected  got  detail")
    passed = True
    for region in E.REGIONS:
        cases = [("genuine", 200, f"{region} keys"), ("genuine-next-key", 200, f"{region} keys")]
        cases += [(case, 401, reason) for case, reason in FORGED.items()]
        for case, expected, needle in cases:
            headers, body = forge(case, _URL, region)
            status, detail = _check(receiver, headers, body)
            ok = status == expected and needle in detail
            passed &= ok
            print(f"{region:<13} {case:<19} {expected:<9} {status:<4} {detail}"
                  f"{'' if ok else '   <-- FAIL'}")  # fmt: skip
    # Without the header, migration mode falls back to QSTASH_* keys; the demo env has none, so
    # the request names no region QStash runs in: not a delivery (401).
    headers, body = forge("genuine", _URL, "US_EAST_1")
    del headers["Upstash-Region"]
    status, detail = _check(receiver, headers, body)
    ok = (status, detail) == (401, "unknown_region")
    passed &= ok
    print(f"{'(no header)':<13} {'genuine':<19} {401:<9} {status:<4} {detail} "
          f"(no QSTASH_* fallback keys){'' if ok else '   <-- FAIL'}")  # fmt: skip
    return platform_objects(root) and passed


def platform_objects(root: Path) -> bool:
    """Part 1, continued: Azure Functions and Upstash Workflow through their request objects."""
    from . import request_objects  # needs azure-functions, upstash-workflow and Flask

    print("\nAzure Functions (the sample app, real HttpRequest objects) and Upstash Workflow")
    print("(the Flask sample through the SDK's serve path):\n")
    rows = request_objects.run(root)
    print("\n".join(request_objects.table(rows)))
    return bool(rows) and all(row.ok for row in rows)


def end_to_end(root: Path, platforms: Sequence[str] | None) -> bool:
    """Part 2; True when every delivery got the expected answer and every sample ran."""
    from . import e2e  # needs httpx and the samples' frameworks

    print("\n== Part 2: end to end, every sample on a local server, two-region stand-in ==\n")
    outcomes, problems = e2e.run(root, platforms)
    print("\n".join(["", *e2e.legend(), "", *e2e.table(outcomes)]))
    failed = [o for o in outcomes if not o.ok]
    for outcome in failed:
        print(f"FAIL: {outcome.label} {outcome.path} {outcome.region} {outcome.case}: "
              f"expected {outcome.expected}, got {outcome.status} ({outcome.detail})")  # fmt: skip
    for problem in problems:
        print(f"PROBLEM: {problem}")
    print(f"\n{len(outcomes) - len(failed)}/{len(outcomes)} deliveries as expected"
          f"{f'; {len(problems)} problem(s)' if problems else ''}")  # fmt: skip
    return bool(outcomes) and not failed and not problems


def receiving(root: Path, platforms: Sequence[str] | None) -> bool:
    """Part 3; True when every case on every chosen sample went as QStash's loop should."""
    from . import receiving as part3  # needs httpx and the samples' frameworks

    chosen = [t.name for t in part3.TARGETS if platforms is None or t.name in platforms]
    if not chosen:
        return True
    print("\n== Part 3: at-least-once receiving through the stand-in ==\n")
    rows, problems = part3.run(root, chosen)
    print("\n".join(["", *part3.table(rows)]))
    for problem in problems:
        print(f"PROBLEM: {problem}")
    failed = [r for r in rows if not r.ok]
    print(f"\n{len(rows) - len(failed)}/{len(rows)} receiving cases as expected")
    return bool(rows) and not failed and not problems


def draining(root: Path, platforms: Sequence[str] | None) -> bool:
    """Part 4 (on the Flask sample); True when EU_CENTRAL_1 drained as each step expected."""
    from . import draining as part4  # needs httpx, the official SDK and Flask

    if platforms is not None and "flask" not in platforms:
        return True
    print("\n== Part 4: watching the old region drain (qstash-receiver migrate status) ==\n")
    steps, problems = part4.run(root)
    print()
    for step in steps:
        print(f"  {'ok  ' if step.ok else 'FAIL'} {step.what} ({step.detail})")
    for problem in problems:
        print(f"PROBLEM: {problem}")
    passed = [s for s in steps if s.ok]
    print(f"\n{len(passed)}/{len(steps)} draining steps as expected")
    return bool(steps) and len(passed) == len(steps) and not problems


def main(argv: list[str] | None = None) -> int:
    """Run both parts; 0 when everything got the expected answer."""
    parser = argparse.ArgumentParser(prog="run_demo.py", description=__doc__)
    parser.add_argument(
        "--root", type=Path, default=ROOT, help="the repository (the one holding this demo)"
    )
    parser.add_argument("--in-process-only", action="store_true", help="run part 1 only")
    parser.add_argument(
        "--platforms",
        help="comma-separated subset of flask,gcf,django,fastapi,lambda,wsgi,asgi,http_server,"
        "aiohttp for parts 2 to 4 (default: all; part 1, with Azure Functions and Upstash "
        "Workflow, always runs)",
    )
    args = parser.parse_args(argv)
    # The library's warnings would repeat what the report already shows.
    logging.getLogger("qstash_receiver").addHandler(logging.NullHandler())
    try:
        ok = in_process(args.root.resolve())
        if not args.in_process_only:
            names = args.platforms.split(",") if args.platforms else None
            ok = end_to_end(args.root.resolve(), names) and ok
            ok = receiving(args.root.resolve(), names) and ok
            ok = draining(args.root.resolve(), names) and ok
    except KeyboardInterrupt:
        print("\ninterrupted: everything the demo started has been stopped", file=sys.stderr)
        return 130
    print(f"\ndemo {'PASSED' if ok else 'FAILED'}")
    return 0 if ok else 1
