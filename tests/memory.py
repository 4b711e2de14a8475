"""Peak memory of a local server's processes, read from /proc (Linux).

Imported as a top-level module by tests (pytest puts tests/ on ``sys.path``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

PROC = Path("/proc")


def children(pid: int) -> list[int]:
    """``pid`` and every process below it (a gunicorn arbiter and its workers, ...)."""
    found = [pid]
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # exited meanwhile
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])  # the name may hold spaces or ")"
        if parent == pid:
            found.extend(children(int(entry.name)))
    return found


def status_kib(pid: int, name: str) -> int:
    """A ``VmRSS``/``VmHWM``-style line of ``/proc/<pid>/status``, in KiB."""
    for line in (PROC / str(pid) / "status").read_text().splitlines():
        if line.startswith(f"{name}:"):
            return int(line.split()[1])
    raise LookupError(f"{name} not in /proc/{pid}/status")


def reset_peak(pid: int) -> bool:
    """Reset ``VmHWM`` to the current RSS (``clear_refs`` 5, Linux >= 4.0); False if refused."""
    try:
        (PROC / str(pid) / "clear_refs").write_text("5")
    except OSError:
        return False
    return True


@dataclass
class Growth:
    """How far the peak RSS of each process rose above its RSS at the start, in KiB."""

    kib: dict[int, int] = field(default_factory=dict)

    @property
    def most(self) -> int:
        """The largest rise of any one process."""
        return max(self.kib.values(), default=0)


@contextmanager
def peak_growth(pid: int) -> Iterator[Growth]:
    """Measure the peak RSS growth of ``pid``'s process tree while the block runs.

    Where the peak cannot be reset, the rise is measured from the current RSS to the peak
    after the block, which can only overstate it (an older, higher peak counts too).
    """
    start: dict[int, int] = {}
    for process in children(pid):
        reset_peak(process)
        start[process] = status_kib(process, "VmRSS")
    growth = Growth()
    yield growth
    for process, rss in start.items():
        growth.kib[process] = max(0, status_kib(process, "VmHWM") - rss)
