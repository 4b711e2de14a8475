"""The Django page's views, urls.py and test, run as they are written in the docs."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

PAGE = Path(__file__).resolve().parents[2] / "docs" / "platforms" / "django.md"


def snippet(name: str) -> str:
    found = re.search(
        rf"<!-- snippet: {re.escape(name)} -->\n```python\n(.*?)\n```", PAGE.read_text(), re.S
    )
    assert found is not None, f"no snippet {name!r} in {PAGE.name}"
    return found.group(1)


def test_the_documented_views_urls_and_test_work_together(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    app = tmp_path / "docs_app"
    app.mkdir()
    (app / "__init__.py").write_text("")
    (app / "views.py").write_text(snippet("django-views") + "\n")
    (app / "urls.py").write_text(snippet("django-urls") + "\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    settings.ROOT_URLCONF = "docs_app.urls"
    namespace: dict[str, Any] = {"__name__": "docs_test"}
    exec(compile(snippet("django-test"), str(PAGE), "exec"), namespace)  # noqa: S102 (our docs)
    namespace["test_order_created"](settings)
