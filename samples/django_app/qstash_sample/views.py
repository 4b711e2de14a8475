"""One function view and one class-based view, each in a sync and an async flavour."""

from __future__ import annotations

import logging

from django.http import HttpRequest, JsonResponse
from django.views import View

from qstash_receiver import VerifiedMessage
from qstash_receiver.adapters.django import QStashVerifiedMixin, get_message, verify_qstash

logger = logging.getLogger("qstash_sample")


def handled(message: VerifiedMessage) -> JsonResponse:
    """The sample contract's answer to a verified delivery (and its ``handled`` log line)."""
    logger.info("handled %s", message.message_id)
    return JsonResponse(
        {
            "ok": True,
            "message_id": message.message_id,
            "key_region": message.key_region,
            "platform": "django",
        }
    )


@verify_qstash
def function_view(request: HttpRequest) -> JsonResponse:
    return handled(get_message(request))


@verify_qstash
async def async_function_view(request: HttpRequest) -> JsonResponse:
    return handled(get_message(request))


class ClassView(QStashVerifiedMixin, View):
    def post(self, request: HttpRequest) -> JsonResponse:
        return handled(self.qstash_message)

    get = put = patch = delete = post  # QStash may deliver with any of these methods


class AsyncClassView(QStashVerifiedMixin, View):
    async def post(self, request: HttpRequest) -> JsonResponse:
        return handled(self.qstash_message)

    get = put = patch = delete = post
