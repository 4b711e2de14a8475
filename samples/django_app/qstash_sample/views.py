"""One function view and one class-based view, each in a sync and an async flavour; a job
view handled once per message (the duplicate-delivery guard in Django's cache) and a callback
view."""

from __future__ import annotations

import logging

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import View

from qstash_receiver import NonRetryableError, VerifiedMessage
from qstash_receiver.adapters.django import (
    CacheStore,
    QStashVerifiedMixin,
    get_message,
    verify_qstash,
)
from qstash_receiver.callbacks import parse_callback

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


@verify_qstash(dedupe=CacheStore("default"))  # settings.CACHES: Redis when REDIS_URL is set
def job_view(request: HttpRequest) -> JsonResponse:
    message = get_message(request)
    try:
        job = message.json()
    except ValueError as error:  # a body no retry will fix: 489, straight to the DLQ
        raise NonRetryableError("the job is not JSON") from error
    if isinstance(job, dict) and job.get("case") == "non-retryable":
        raise NonRetryableError("this job can never succeed")
    return handled(message)


@verify_qstash
def callback_view(request: HttpRequest) -> HttpResponse:
    report = parse_callback(get_message(request))  # 489 for a body that is not a callback
    kind = "failure callback" if report.is_failure else "callback"
    logger.info(
        "%s for %s: status %d, dlq %s", kind, report.source_message_id, report.status,
        report.dlq_id,
    )  # fmt: skip
    return HttpResponse("ok", content_type="text/plain")
