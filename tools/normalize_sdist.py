"""Rewrite an sdist so that the same sources give the same bytes (``make dist``).

setuptools stamps the files it generates (PKG-INFO, egg-info) and the gzip header with the
build time, and copies the sources' mtimes and owners, which differ between checkouts. This
rewrites every member with the ``SOURCE_DATE_EPOCH`` mtime, root ownership, normalised modes,
in name order, in a gzip stream without a name or a time of its own.
"""

from __future__ import annotations

import gzip
import io
import os
import sys
import tarfile
from pathlib import Path


def normalize(path: Path, epoch: int) -> None:
    """Rewrite the ``.tar.gz`` at ``path`` in place."""
    with tarfile.open(path, "r:gz") as source:
        members = sorted(source.getmembers(), key=lambda member: member.name)
        contents = {
            member.name: source.extractfile(member).read()  # type: ignore[union-attr]
            for member in members
            if member.isfile()
        }
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as target:
        for member in members:
            member.mtime = epoch
            member.uid = member.gid = 0
            member.uname = member.gname = ""
            member.mode = 0o755 if member.isdir() else 0o644
            member.pax_headers = {}
            data = contents.get(member.name)
            target.addfile(member, io.BytesIO(data) if data is not None else None)
    with path.open("wb") as raw, gzip.GzipFile("", "wb", 9, raw, mtime=epoch) as stream:
        stream.write(buffer.getvalue())


def main(argv: list[str]) -> int:
    epoch = int(os.environ["SOURCE_DATE_EPOCH"])
    for name in argv:
        normalize(Path(name), epoch)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
