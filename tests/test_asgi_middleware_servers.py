"""``adapters.asgi.QStashMiddleware`` under uvicorn: a plain ASGI callable, Litestar and Quart
apps and Django's ASGI handler, each in single-region and migration mode
(tests/servers/neutral_*.py)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from neutral_cases import check_concurrent_copies, check_every_case, server, uvicorn

APPS = {  # app -> (module:attribute, the prefix of its verified paths)
    "plain": ("neutral_asgi:plain", ""),
    "litestar": ("neutral_asgi:litestar_app", ""),
    "quart": ("neutral_asgi:quart_app", ""),
    "django": ("neutral_django:asgi", "/asgi"),
}


@pytest.mark.parametrize("mode", ["single", "migration"])
@pytest.mark.parametrize("app", sorted(APPS))
def test_every_case_under_uvicorn(app: str, mode: str, tmp_path: Path) -> None:
    if app != "plain" and importlib.util.find_spec(app) is None:
        pytest.skip(f"{app} is not installed in this environment")
    target, prefix = APPS[app]
    with server(uvicorn(target), mode, tmp_path / f"{app}-{mode}.log") as service:
        check_every_case(service, prefix, mode)
        check_concurrent_copies(service, prefix)
