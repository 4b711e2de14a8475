"""``qstash-receiver migrate status``: what can still deliver from each region.

Each region configured in the migration environment (``{REGION}_QSTASH_URL`` and
``{REGION}_QSTASH_TOKEN``, with ``QSTASH_REGION`` naming the primary) is asked through the official
SDK ([`qstash_client()`][qstash_receiver.publish.qstash_client]) for its schedules, queues, URL
groups, dead letters and the messages still in flight: those whose latest entry in QStash's logs is
CREATED, ACTIVE, RETRY or ERROR (not DELIVERED, FAILED or CANCELED).

A region is **drained** when nothing in it delivers on its own any more: no schedule (a paused
one counts: it can be resumed) and nothing in flight. Queues, URL groups and dead letters are
counted and shown but do not keep a region from being drained: each delivers only when someone
acts (publishes to the queue or group with that region's token, or retries a dead letter).

Exit status: 0 every region besides the primary is drained (its signing keys can go); 1 one is
not; 2 a region could not be asked (unreachable, token refused: named with the cause, never the
token) or the environment is not a migration one.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import re
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from qstash_receiver import names as E
from qstash_receiver.config import QStashConfig, load_config
from qstash_receiver.names import Region

from ._common import CliError, add_env_options, needs_extra, read_env

if TYPE_CHECKING:
    from qstash import QStash

__all__ = ["RegionStatus", "in_flight", "region_status", "register", "run"]

_PAGES = 1000  # a bound on any listing's pages: a server that never stops paging is an error
_CLOSED = frozenset({"DELIVERED", "FAILED", "CANCELED"})
# When two entries of a message share a millisecond, the later state wins.
_ORDER = {"CREATED": 0, "DELIVERED": 2, "FAILED": 2, "CANCELED": 2}
_STATUS = re.compile(r"Request failed with status: (\d+)")


@dataclass(frozen=True)
class RegionStatus:
    """What a region still holds, as counted through the official SDK."""

    region: Region
    schedules: int
    queues: int
    url_groups: int
    dlq: int
    in_flight: int

    @property
    def drained(self) -> bool:
        """True when nothing in the region delivers on its own: no schedule, nothing in flight."""
        return self.schedules == 0 and self.in_flight == 0

    def as_json(self) -> dict[str, int | bool]:
        """The region's entry in ``--json``: these keys, in this order (the migration runbook
        in docs/migration.md documents them)."""
        return {
            "schedules": self.schedules,
            "queues": self.queues,
            "url_groups": self.url_groups,
            "dlq": self.dlq,
            "in_flight": self.in_flight,
            "drained": self.drained,
        }


class _Unanswered(Exception):
    """A region that could not be asked, with a cause safe to print."""


def _log_entries(client: QStash, state: Any, page_size: int) -> Iterator[Any]:
    cursor: str | None = None
    for _ in range(_PAGES):
        # qstash 3.4's log.list() prints each raw answer to stdout: keep it off --json's output
        # (and off the terminal: it holds message bodies and headers).
        with contextlib.redirect_stdout(io.StringIO()):
            page = client.log.list(cursor=cursor, count=page_size, filter={"state": state})
        yield from page.logs
        cursor = page.cursor
        if not cursor or not page.logs:
            return
    raise _Unanswered(f"its logs did not end after {_PAGES} pages")


def in_flight(client: QStash, page_size: int = 1000) -> int:
    """How many messages of the client's region are still in flight, from QStash's logs.

    The logs hold one entry per state a message passed through; a message is in flight when
    its latest entry is CREATED or in progress (ACTIVE, RETRY, ERROR). Messages older than
    the oldest entry QStash keeps are not seen.
    """
    from qstash.log import LogState

    latest: dict[str, tuple[int, int, bool]] = {}
    states = (LogState.CREATED, LogState.IN_PROGRESS, *(LogState(s) for s in sorted(_CLOSED)))
    for state in states:
        for entry in _log_entries(client, state, page_size):
            name = entry.state.value
            seen = (int(entry.time), _ORDER.get(name, 1), name not in _CLOSED)
            if seen[:2] > latest.get(entry.message_id, (-1, -1, False))[:2]:
                latest[entry.message_id] = seen
    return sum(1 for _, _, open_ in latest.values() if open_)


def _dead_letters(client: QStash) -> int:
    total, cursor = 0, None
    for _ in range(_PAGES):
        page = client.dlq.list(cursor=cursor)
        total += len(page.messages)
        cursor = page.cursor
        if not cursor or not page.messages:
            return total
    raise _Unanswered(f"its DLQ listing did not end after {_PAGES} pages")


def region_status(client: QStash, region: Region, page_size: int = 1000) -> RegionStatus:
    """Count what ``region`` holds through ``client`` (the official SDK's, for that region).

    Raises:
        the SDK's and httpx's errors, unchanged.
    """
    return RegionStatus(
        region,
        schedules=len(client.schedule.list()),
        queues=len(client.queue.list()),
        url_groups=len(client.url_group.list()),
        dlq=_dead_letters(client),
        in_flight=in_flight(client, page_size),
    )


def _cause(error: Exception, token: str) -> str:
    """Why a region could not be asked, without the token (even when an answer echoes it)."""
    import httpx
    from qstash.errors import QStashError

    text = str(error)
    if isinstance(error, QStashError) and (found := _STATUS.match(text)) is not None:
        status = int(found.group(1))
        cause = (
            f"the token was refused (HTTP {status})"
            if status in (401, 403)
            else f"QStash answered HTTP {status}"
        )
        detail = text[found.end() :].removeprefix(", body: ").strip()
        cause += f": {detail[:160]}" if detail else ""
    elif isinstance(error, QStashError):
        cause = text[:200]
    elif isinstance(error, httpx.TimeoutException):
        cause = f"unreachable: no answer in time ({type(error).__name__})"
    elif isinstance(error, httpx.HTTPError):
        cause = f"unreachable: {type(error).__name__}: {text[:160]}"
    elif isinstance(error, _Unanswered):
        cause = text
    else:  # an answer the SDK could not read: HTML, another API, a proxy's page
        cause = f"its answer is not QStash's API ({type(error).__name__}): is the URL right?"
    return cause.replace(token, "[token]") if token else cause


def _ask(config: QStashConfig, region: Region) -> RegionStatus:
    import httpx
    from qstash.errors import QStashError

    from qstash_receiver.publish import qstash_client

    outgoing = config.outgoing_regions[region]
    token = outgoing.token.reveal() if outgoing.token else ""
    # One attempt per call: a region that does not answer is reported at once. The SDK has no
    # close(); its few connections end with the command's process.
    client = qstash_client(region, config=config, retry=False)
    try:
        return region_status(client, region)
    # The SDK's and httpx's errors, and what the SDK raises on an answer it cannot read.
    except (QStashError, httpx.HTTPError, _Unanswered, ValueError, KeyError, TypeError) as error:
        raise _Unanswered(f"cannot ask {outgoing.url}: {_cause(error, token)}") from None


def _count(number: int, one: str, many: str | None = None) -> str:
    return f"{number} {one if number == 1 else (many or one + 's')}"


def _parts(status: RegionStatus, *, blocking: bool) -> list[str]:
    if blocking:
        counted = [
            (status.schedules, "schedule", None),
            (status.in_flight, "in flight", "in flight"),
        ]
    else:
        counted = [
            (status.queues, "queue", None),
            (status.url_groups, "URL group", None),
            (status.dlq, "DLQ message", None),
        ]
    return [_count(n, one, many) for n, one, many in counted if n]


def _text(primary: Region, found: Mapping[Region, RegionStatus | str]) -> list[str]:
    lines = [f"primary region: {primary}"]
    for region, status in found.items():
        if isinstance(status, str):
            lines.append(f"{region} unknown: {status}")
            continue
        if region == primary:
            held = _parts(status, blocking=True) + _parts(status, blocking=False)
            lines.append(f"{region} (primary): {', '.join(held) or 'nothing yet'}")
            continue
        keys = f"{region}_QSTASH_CURRENT/NEXT_SIGNING_KEY"
        if status.drained:
            lines.append(f"{region} drained")
            lines.append(f"  nothing in it delivers on its own: {keys} can go")
        else:
            lines.append(f"{region} not drained: {', '.join(_parts(status, blocking=True))}")
            lines.append(f"  keep {keys}: what is left is delivered signed with them")
        if rest := _parts(status, blocking=False):
            lines.append(f"  left, delivering only on a publish or a DLQ retry: {', '.join(rest)}")
    return lines


def _regions(config: QStashConfig, env: Mapping[str, str]) -> list[Region]:
    """The regions to ask: any with a URL and token, signing keys, or named as the primary."""
    keyed = {
        region
        for region in E.REGIONS
        for name in (E.QSTASH_CURRENT_SIGNING_KEY, E.QSTASH_NEXT_SIGNING_KEY)
        if env.get(E.regional(region, name))
    }
    wanted = set(config.outgoing_regions) | keyed | {config.primary_region}
    primary = config.primary_region
    return sorted((r for r in wanted if r is not None), key=lambda r: (r == primary, r))


def run(args: argparse.Namespace) -> int:
    """``migrate status``: print each region's state; the exit status (module docstring)."""
    env = read_env(args)
    config = load_config(env)
    if config.dev_mode:
        raise CliError("migrate status asks each region's QStash API: unset QSTASH_DEV")
    if config.primary_region is None:
        raise CliError(
            "migrate status needs migration mode: QSTASH_REGION naming the primary region, and "
            "each region's {REGION}_QSTASH_URL and {REGION}_QSTASH_TOKEN"
        )
    with needs_extra("qstash", "publish", "qstash-receiver migrate status"):
        import qstash  # noqa: F401  (the SDK's absence named here, not as a traceback)
    found: dict[Region, RegionStatus | str] = {}
    for region in _regions(config, env):
        if region not in config.outgoing_regions:
            found[region] = (
                f"{region}_QSTASH_URL and {region}_QSTASH_TOKEN are not both set: set them to "
                "ask this region"
            )
            continue
        try:
            found[region] = _ask(config, region)
        except _Unanswered as error:
            found[region] = str(error)
    primary = config.primary_region
    if args.json:
        regions = {r: s.as_json() for r, s in sorted(found.items()) if not isinstance(s, str)}
        print(json.dumps({"primary": primary, "regions": regions}, indent=2))
        for region, problem in found.items():
            if isinstance(problem, str):
                print(f"error: {region}: {problem}", file=sys.stderr)
    else:
        print("\n".join(_text(primary, found)))
    if any(isinstance(s, str) for s in found.values()):
        return 2
    others = [s for r, s in found.items() if r != primary and isinstance(s, RegionStatus)]
    return 0 if all(s.drained for s in others) else 1


def register(commands: Any) -> None:
    """Add the ``migrate`` subcommand and its ``status``."""
    parser: argparse.ArgumentParser = commands.add_parser(
        "migrate",
        help="follow a migration between QStash regions",
        description="Follow a migration between QStash regions.",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    show = actions.add_parser(
        "status",
        help="what can still deliver from each region (needs the publish extra)",
        description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    show.add_argument("--json", action="store_true", help="print JSON for scripts")
    add_env_options(show)
    show.set_defaults(run=run)
