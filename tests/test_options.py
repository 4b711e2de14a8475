"""Options that would weaken verification are refused when a handler is decorated."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest

from qstash_receiver import check_options
from qstash_receiver.adapters import flask as flask_adapter
from qstash_receiver.adapters import gcf as gcf_adapter
from qstash_receiver.adapters.aws_lambda import verify_qstash as lambda_verify
from qstash_receiver.adapters.aws_lambda.middleware import QStashMiddleware

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
def test_check_options(options: dict[str, Any]) -> None:
    values = {"clock_tolerance": 0, "max_body_bytes": 1024, **options}
    with pytest.raises(ValueError, match=r"clock_tolerance|max_body_bytes"):
        check_options(values["clock_tolerance"], values["max_body_bytes"])


def test_sane_options_pass() -> None:
    check_options(0, 0)
    check_options(5.5, 10 * 1024 * 1024)
    check_options(86_400, 1)  # up to one day (issue 13: inf switched the expiry check off)
