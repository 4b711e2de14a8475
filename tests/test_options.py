"""Options that would weaken verification are refused when a handler is decorated."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest

from qstash_receiver.adapters import flask as flask_adapter
from qstash_receiver.adapters import gcf as gcf_adapter
from qstash_receiver.adapters.aws_lambda import verify_qstash as lambda_verify
from qstash_receiver.adapters.aws_lambda.middleware import QStashMiddleware
from qstash_receiver.integration import Options

BAD = [
    pytest.param({"clock_tolerance": math.nan}, id="nan-tolerance"),
    pytest.param({"clock_tolerance": -1}, id="negative-tolerance"),
    pytest.param({"clock_tolerance": math.inf}, id="inf-tolerance"),
    pytest.param({"max_body_bytes": math.nan}, id="nan-limit"),
    pytest.param({"max_body_bytes": -5}, id="negative-limit"),
    pytest.param({"max_body_bytes": True}, id="bool-limit"),
]


def _handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return {"statusCode": 200}


def _view() -> str:
    return "ok"


DECORATORS: list[Callable[..., Any]] = [
    lambda **o: flask_adapter.verify_qstash(**o)(_view),
    lambda **o: gcf_adapter.verify_qstash(**o)(_view),
    lambda **o: lambda_verify(**o)(_handler),
    lambda **o: QStashMiddleware(**o),
]


@pytest.mark.parametrize("options", BAD)
@pytest.mark.parametrize("decorate", DECORATORS, ids=["flask", "gcf", "lambda", "middleware"])
def test_bad_options_are_refused_at_decoration(
    decorate: Callable[..., Any], options: dict[str, Any]
) -> None:
    with pytest.raises(ValueError, match=r"clock_tolerance|max_body_bytes"):
        decorate(**options)


@pytest.mark.parametrize("options", BAD)
def test_options_refuse(options: dict[str, Any]) -> None:
    values = {"clock_tolerance": 0, "max_body_bytes": 1024, **options}
    with pytest.raises(ValueError, match=r"clock_tolerance|max_body_bytes"):
        Options(clock_tolerance=values["clock_tolerance"], max_body_bytes=values["max_body_bytes"])


def test_sane_options_pass() -> None:
    Options(clock_tolerance=0, max_body_bytes=0)
    Options(clock_tolerance=5.5, max_body_bytes=10 * 1024 * 1024)
    Options(clock_tolerance=86_400, max_body_bytes=1)  # up to one day (issue 13)
