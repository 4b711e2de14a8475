"""``adapters.http_server.verify_qstash`` on the standard library's ``ThreadingHTTPServer`` and
served as Vercel's Python runtime serves a ``handler`` class, in single-region and migration
mode (tests/servers/neutral_http.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from neutral_cases import SERVERS, check_concurrent_copies, check_every_case, server


@pytest.mark.parametrize("mode", ["single", "migration"])
@pytest.mark.parametrize("served", ["threading", "vercel"])
def test_every_case_on_http_server(served: str, mode: str, tmp_path: Path) -> None:
    def command(port: int) -> list[str]:
        extra = ["vercel"] if served == "vercel" else []
        return [sys.executable, str(SERVERS / "neutral_http.py"), str(port), *extra]

    with server(command, mode, tmp_path / f"{served}-{mode}.log") as service:
        check_every_case(service, "", mode, chunked_status=411)
        check_concurrent_copies(service, "")
