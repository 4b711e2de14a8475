"""Print the version a matrix session installed; fail a lowest session that is not at the floor.

Usage: ``python tools/matrix_check.py EXTRA DISTRIBUTION lowest|newest``, run inside the
session's environment after qstash-receiver was installed there with that extra.
"""

from __future__ import annotations

import sys
from importlib.metadata import requires, version

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version


def declared_floor(extra: str, distribution: str) -> Version:
    """The ``>=`` bound that qstash-receiver's ``extra`` puts on ``distribution``."""
    for line in requires("qstash-receiver") or []:
        requirement = Requirement(line)
        if canonicalize_name(requirement.name) != canonicalize_name(distribution):
            continue
        if requirement.marker is None or not requirement.marker.evaluate({"extra": extra}):
            continue
        floors = [Version(spec.version) for spec in requirement.specifier if spec.operator == ">="]
        if floors:
            return max(floors)
    raise SystemExit(f"qstash-receiver[{extra}] declares no >= floor for {distribution}")


def main(argv: list[str]) -> int:
    extra, distribution, end = argv
    floor = declared_floor(extra, distribution)
    installed = Version(version(distribution))
    print(f"{distribution} {installed} installed (qstash-receiver[{extra}] declares >= {floor})")
    if end == "lowest" and installed != floor:
        print(f"error: the lowest session must test {distribution} {floor} itself", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
