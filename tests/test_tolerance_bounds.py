"""An infinite or absurd ``clock_tolerance`` is refused like NaN, wherever it can be given.

Issue 13, defect 2: ``inf`` (or ``1e308``) passed every check and switched the expiry check
off. Every entry point goes through ``validate_tolerance``: ``Receiver.verify``, the adapters'
decorators and middleware (at decoration), and ``qstash-receiver verify --tolerance``. The
Django decorator and mixin are covered in tests/django_adapter/test_django_tolerance.py.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Blueprint

from qstash_receiver import Receiver
from qstash_receiver.adapters import flask as flask_adapter
from qstash_receiver.adapters import gcf as gcf_adapter
from qstash_receiver.adapters.aws_lambda import verify_qstash as lambda_verify
from qstash_receiver.adapters.aws_lambda.middleware import QStashMiddleware
from qstash_receiver.cli import main
from qstash_receiver.testing import sign
from qstash_receiver.token import MAX_CLOCK_TOLERANCE, validate_tolerance

CURRENT = "sig_toleranceCurrent00000000000000"
NEXT = "sig_toleranceNext0000000000000000000"
BODY = b'{"t": 1}'

ABSURD = [
    pytest.param(math.inf, id="inf"),
    pytest.param(1e308, id="1e308"),
    pytest.param(10**400, id="huge-int"),
    pytest.param(MAX_CLOCK_TOLERANCE + 0.5, id="just-over-a-day"),
    pytest.param(-math.inf, id="-inf"),
    pytest.param(math.nan, id="nan"),
]


def _handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return {"statusCode": 200}


def _view() -> str:
    return "ok"


ENTRY_POINTS: dict[str, Callable[[Any], object]] = {
    "validate_tolerance": validate_tolerance,
    "flask": lambda t: flask_adapter.verify_qstash(clock_tolerance=t)(_view),
    "flask-protect": lambda t: flask_adapter.QStash(environ={}).protect(
        Blueprint("b", __name__), clock_tolerance=t
    ),
    "gcf": lambda t: gcf_adapter.verify_qstash(clock_tolerance=t)(_view),
    "lambda": lambda t: lambda_verify(clock_tolerance=t)(_handler),
    "lambda-middleware": lambda t: QStashMiddleware(clock_tolerance=t),
}


@pytest.mark.parametrize("tolerance", ABSURD)
def test_receiver_verify_refuses_it_even_for_a_long_expired_token(tolerance: float) -> None:
    expired = sign(BODY, key=CURRENT, now=time.time() - 10 * 365 * 86400)  # ten years ago
    with pytest.raises(ValueError, match="clock_tolerance"):
        Receiver(CURRENT, NEXT).verify(signature=expired, body=BODY, clock_tolerance=tolerance)


@pytest.mark.parametrize("tolerance", ABSURD)
@pytest.mark.parametrize("entry", list(ENTRY_POINTS))
def test_every_adapter_refuses_it_at_decoration(entry: str, tolerance: float) -> None:
    with pytest.raises(ValueError, match="clock_tolerance"):
        ENTRY_POINTS[entry](tolerance)


@pytest.mark.parametrize("entry", list(ENTRY_POINTS))
@pytest.mark.parametrize("tolerance", [True, "60", None])
def test_a_non_number_is_a_type_error(entry: str, tolerance: object) -> None:
    with pytest.raises(TypeError, match="clock_tolerance"):
        ENTRY_POINTS[entry](tolerance)


@pytest.mark.parametrize(
    "tolerance", [0, 0.25, 300, MAX_CLOCK_TOLERANCE - 0.5, MAX_CLOCK_TOLERANCE]
)
def test_tolerances_up_to_a_day_pass_everywhere(tolerance: float) -> None:
    for build in ENTRY_POINTS.values():
        build(tolerance)
    token = sign(BODY, key=CURRENT, now=time.time() - 300 - tolerance + 5)  # expired, in range
    assert Receiver(CURRENT, NEXT).verify(signature=token, body=BODY, clock_tolerance=tolerance)


def test_the_bound_is_one_day() -> None:
    assert MAX_CLOCK_TOLERANCE == 24 * 60 * 60


@pytest.mark.parametrize("value", ["inf", "1e308", "Infinity", "86401", "nan"])
def test_cli_verify_refuses_it(
    value: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    body_file = tmp_path / "body"
    body_file.write_bytes(BODY)
    expired = sign(BODY, key=CURRENT, now=time.time() - 10 * 365 * 86400)
    argv = ["verify", str(body_file), "--signature", expired, "--tolerance", value]
    status = main([*argv, "--key", CURRENT, "--next-key", NEXT])
    out = "".join(capsys.readouterr())
    assert status == 2
    assert "--tolerance must" in out
    assert "OK" not in out
