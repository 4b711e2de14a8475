"""``adapters.wsgi.QStashMiddleware`` under gunicorn: a plain WSGI callable, Falcon, Flask and
Django apps, each in single-region and migration mode (tests/servers/neutral_*.py)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from neutral_cases import check_concurrent_copies, check_every_case, gunicorn, server

APPS = {
    "plain": "neutral_wsgi:plain",
    "falcon": "neutral_wsgi:falcon_app",
    "flask": "neutral_wsgi:flask_app",
    "django": "neutral_django:wsgi",
}


@pytest.mark.parametrize("mode", ["single", "migration"])
@pytest.mark.parametrize("app", sorted(APPS))
def test_every_case_under_gunicorn(app: str, mode: str, tmp_path: Path) -> None:
    if importlib.util.find_spec(app) is None and app in ("falcon", "flask", "django"):
        pytest.skip(f"{app} is not installed in this environment")
    with server(gunicorn(APPS[app]), mode, tmp_path / f"{app}-{mode}.log") as service:
        check_every_case(service, "", mode)
        check_concurrent_copies(service, "")
