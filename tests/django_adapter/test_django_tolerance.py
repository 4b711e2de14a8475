"""Django's decorator and mixin refuse an infinite or absurd ``clock_tolerance`` (issue 13, 2)."""

from __future__ import annotations

import math

import pytest
from django.http import HttpRequest, HttpResponse
from django.views import View

from qstash_receiver.adapters.django import QStashVerifiedMixin, verify_qstash
from qstash_receiver.token import MAX_CLOCK_TOLERANCE

ABSURD = [math.inf, 1e308, MAX_CLOCK_TOLERANCE + 1, math.nan, -math.inf]


def _view(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok")


class Hook(QStashVerifiedMixin, View):
    def post(self, request: HttpRequest) -> HttpResponse:
        return HttpResponse("ok")


@pytest.mark.parametrize("tolerance", ABSURD)
def test_decorator_refuses_it(tolerance: float) -> None:
    with pytest.raises(ValueError, match="clock_tolerance"):
        verify_qstash(clock_tolerance=tolerance)(_view)


@pytest.mark.parametrize("tolerance", ABSURD)
def test_mixin_refuses_it_as_class_attribute_and_initkwarg(tolerance: float) -> None:
    class AbsurdHook(Hook):
        qstash_clock_tolerance = tolerance

    with pytest.raises(ValueError, match="clock_tolerance"):
        AbsurdHook.as_view()
    with pytest.raises(ValueError, match="clock_tolerance"):
        Hook.as_view(qstash_clock_tolerance=tolerance)


def test_a_day_is_still_accepted() -> None:
    verify_qstash(clock_tolerance=MAX_CLOCK_TOLERANCE)(_view)
    Hook.as_view(qstash_clock_tolerance=MAX_CLOCK_TOLERANCE)
