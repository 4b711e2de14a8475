"""Deliver accepted messages as QStash does: signed, retried, dead-lettered, reported.

Per attempt: a 2xx answer ends the message (after one more copy when the publish asked for a
duplicate); 489 with ``Upstash-NonRetryable-Error: true`` dead-letters it at once; any other
answer (or none) is retried after ``Retry-After`` (capped at ``max_retry_after``) or the
backoff, until the retries are used up, and then dead-lettered. A callback URL hears about
every answered attempt, a failure-callback URL about the dead letter. Needs httpx.
"""

from __future__ import annotations

import itertools
import logging
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from qstash_receiver.integration import missing_extra

try:
    import httpx
except ModuleNotFoundError as error:  # the stand-in (devserver) imports this module
    raise missing_extra(error, "cli") from None

from qstash_receiver.names import Region
from qstash_receiver.token import signed_headers

from .answers import Answer, callback_body, non_retryable, retry_after
from .events import EventLog
from .proto import FollowUp, Kind, Message, Settings
from .queue import Scheduler

__all__ = ["Attempt", "AttemptHook", "DeadLetter", "Outbox", "new_message_id"]

logger = logging.getLogger("qstash_receiver.dev")

_KEPT_BODY = 4096
_CALLBACK_TYPE = {"Content-Type": "application/json"}


def new_message_id() -> str:
    """A message id in QStash's shape (``msg_`` and random characters)."""
    return f"msg_{secrets.token_hex(12)}"


@dataclass(frozen=True)
class Attempt:
    """One delivery attempt and its outcome (``status`` is None when nothing answered).

    ``final`` means no further attempt of this message follows; ``retry_in`` is the wait
    before the next one otherwise. ``dlq_id`` is set on the attempt that dead-lettered the
    message. ``callback_id`` / ``failure_callback_id`` name the callback messages sent about
    it. ``duplicate`` marks the extra copy a publish asked for.
    """

    region: Region
    message_id: str
    destination: str
    method: str
    retried: int
    status: int | None
    response_body: bytes = field(repr=False)
    error: str | None
    final: bool
    kind: Kind = "message"
    duplicate: bool = False
    retry_in: float | None = None
    dlq_id: str | None = None
    callback_id: str | None = None
    failure_callback_id: str | None = None

    @property
    def ok(self) -> bool:
        """True when the destination answered 2xx."""
        return self.status is not None and 200 <= self.status < 300


AttemptHook = Callable[[Attempt], None]


@dataclass(frozen=True)
class DeadLetter:
    """A message QStash would have moved to its dead letter queue."""

    dlq_id: str
    message: Message
    retried: int
    answer: Answer | None


@dataclass(frozen=True)
class _Step:
    """One attempt to make: which copy of the message, and how often it was retried."""

    message: Message
    retried: int = 0
    copies: int = 0  # more copies to deliver after a success (the dev-only duplicate)
    duplicate: bool = False


class Outbox:
    """The delivery side of the stand-in: a scheduler, an HTTP client and what happened.

    Args:
        backoff: seconds before the first retry; doubles for each further retry.
        timeout: seconds to wait for a destination's answer.
        workers: delivery threads.
        max_retry_after: the longest ``Retry-After`` honoured, in seconds (QStash: one day);
            longer waits are cut to it, so that a local loop stays quick.
        history: how many attempts `attempts` keeps.
        on_attempt: called with every [`Attempt`][qstash_receiver.cli.dev.server.Attempt] (from a
            delivery thread).
        events: where each message's states are logged (QStash's logs), if anywhere.
    """

    def __init__(
        self,
        *,
        backoff: float,
        timeout: float,
        workers: int = 8,
        max_retry_after: float = 60.0,
        history: int = 10_000,
        on_attempt: AttemptHook | None = None,
        events: EventLog | None = None,
    ) -> None:
        self.backoff = backoff
        self.events = events
        self.max_retry_after = max_retry_after
        self._client = httpx.Client(timeout=timeout)
        self._scheduler = Scheduler(workers, on_exit=self._client.close)
        self._on_attempt = on_attempt
        self._changed = threading.Condition()
        self._attempts: deque[Attempt] = deque(maxlen=history)
        self._finals: dict[str, Attempt] = {}
        self._dead: list[DeadLetter] = []
        self._dlq_seq = itertools.count()

    def start(self) -> None:
        """Start the delivery threads."""
        self._scheduler.start()

    def stop(self, grace: float = 1.0) -> None:
        """Drop pending deliveries; an attempt on the wire finishes unrecorded in the background."""
        self._scheduler.stop(grace)

    @property
    def stopping(self) -> bool:
        """True once stopped: nothing more is accepted or recorded."""
        return self._scheduler.stopping

    def submit(self, message: Message) -> bool:
        """Deliver ``message`` after its delay; False once stopping."""
        copies = 1 if message.settings.deliver_twice else 0
        if not self._schedule(message.settings.delay, _Step(message, copies=copies)):
            return False
        if self.events is not None:
            due = message.created_ms + int(message.settings.delay * 1000)
            # Created when it was accepted: its entry carries that time, the delay counts from it.
            self.events.record(message, "CREATED", time=message.created_ms, nextDeliveryTime=due)
        return True

    @property
    def attempts(self) -> list[Attempt]:
        """The latest attempts (up to ``history``), in order."""
        with self._changed:
            return list(self._attempts)

    @property
    def dead_letters(self) -> list[DeadLetter]:
        """Every dead-lettered message, in order."""
        with self._changed:
            return list(self._dead)

    def wait_for(self, message_id: str, timeout: float = 10.0) -> Attempt:
        """Block until the message's final attempt.

        Raises:
            TimeoutError: it did not finish within ``timeout`` seconds.
        """
        with self._changed:
            if not self._changed.wait_for(lambda: message_id in self._finals, timeout):
                raise TimeoutError(f"message {message_id} not delivered within {timeout} s")
            return self._finals[message_id]

    def _schedule(self, delay: float, step: _Step) -> bool:
        return self._scheduler.at(delay, lambda: self._attempt(step))

    def _send(self, step: _Step) -> tuple[Answer | None, str | None]:
        message = step.message
        headers = signed_headers(
            message.body,
            key=message.region.current_key,
            url=message.destination,
            region=message.region.region,
            message_id=message.message_id,
            retried=step.retried,
            caller_ip=message.caller_ip,
            forwarded={**message.settings.forwarded, **message.origin_headers},
        )
        try:
            response = self._client.request(
                message.settings.method, message.destination, content=message.body, headers=headers
            )
        except (httpx.HTTPError, httpx.InvalidURL) as err:
            return None, type(err).__name__
        raw = tuple((k.decode("latin-1"), v.decode("latin-1")) for k, v in response.headers.raw)
        return Answer(response.status_code, raw, response.content), None

    def _attempt(self, step: _Step) -> None:
        if self.events is not None:
            self.events.record(step.message, "ACTIVE")
        answer, error = self._send(step)
        if self.stopping:
            return
        message, retried = step.message, step.retried
        ok = answer is not None and answer.ok
        give_up = answer is not None and non_retryable(answer)
        used_up = not ok and retried >= message.settings.retries
        retry_in: float | None = None
        if not ok and not give_up and not used_up:
            wanted = retry_after(answer, time.time()) if answer is not None else None
            retry_in = self.backoff * 2**retried if wanted is None else wanted
            retry_in = min(retry_in, self.max_retry_after)
        dlq_id = self._dead_letter(message, retried, answer) if give_up or used_up else None
        final = dlq_id is not None or (ok and step.copies == 0)
        attempt = Attempt(
            message.region.region,
            message.message_id,
            message.destination,
            message.settings.method,
            retried,
            answer.status if answer else None,
            answer.body[:_KEPT_BODY] if answer else b"",
            error,
            final,
            kind=message.kind,
            duplicate=step.duplicate,
            retry_in=retry_in,
            dlq_id=dlq_id,
            callback_id=self._callback(message, answer, retried),
            failure_callback_id=self._failure_callback(message, answer, retried, dlq_id),
        )
        self._log(message, attempt, answer)
        self._record(attempt)
        if retry_in is not None:
            self._schedule(retry_in, replace(step, retried=retried + 1, duplicate=False))
        elif ok and step.copies:
            self._schedule(0, replace(step, copies=step.copies - 1, duplicate=True))

    def _log(self, message: Message, attempt: Attempt, answer: Answer | None) -> None:
        if self.events is None:
            return
        if attempt.ok:
            self.events.record(message, "DELIVERED", responseStatus=attempt.status)
            return
        error = f"HTTP status {attempt.status}" if answer is not None else attempt.error
        self.events.record(message, "ERROR", error=error, responseStatus=attempt.status)
        if attempt.retry_in is not None:
            due = int((time.time() + attempt.retry_in) * 1000)
            self.events.record(message, "RETRY", nextDeliveryTime=due)
        else:
            self.events.record(message, "FAILED", error=error)

    def _dead_letter(self, message: Message, retried: int, answer: Answer | None) -> str:
        # QStash's DLQ ids look like "1725323658779-0": milliseconds and a sequence number.
        dlq_id = f"{int(time.time() * 1000)}-{next(self._dlq_seq)}"
        with self._changed:
            self._dead.append(DeadLetter(dlq_id, message, retried, answer))
        return dlq_id

    def _follow(
        self, message: Message, follow: FollowUp | None, kind: Kind, body: Callable[[], bytes]
    ) -> str | None:
        """Send a callback about ``message`` (a new signed message of its own); its id."""
        if follow is None:
            return None
        settings = Settings(
            follow.method, follow.delay, follow.retries, {**_CALLBACK_TYPE, **follow.forwarded}
        )
        callback = Message(
            message.region,
            new_message_id(),
            follow.url,
            body(),
            settings,
            message.caller_ip,
            int(time.time() * 1000),
            kind=kind,
            source_message_id=message.message_id,
        )
        return callback.message_id if self.submit(callback) else None

    def _callback(self, message: Message, answer: Answer | None, retried: int) -> str | None:
        if answer is None:  # nothing answered: there is no response to report
            return None
        follow = message.settings.callback
        return self._follow(
            message, follow, "callback", lambda: callback_body(message, answer, retried)
        )

    def _failure_callback(
        self, message: Message, answer: Answer | None, retried: int, dlq_id: str | None
    ) -> str | None:
        if dlq_id is None:
            return None
        follow = message.settings.failure_callback
        return self._follow(
            message,
            follow,
            "failure-callback",
            lambda: callback_body(message, answer, retried, dlq_id=dlq_id),
        )

    def _record(self, attempt: Attempt) -> None:
        with self._changed:
            self._attempts.append(attempt)
            if attempt.final:
                self._finals[attempt.message_id] = attempt
            self._changed.notify_all()
        logger.info(
            "%s %s -> %s %s (retried %d): %s",
            attempt.region,
            attempt.message_id,
            attempt.method,
            attempt.destination,
            attempt.retried,
            attempt.status if attempt.status is not None else attempt.error,
        )
        if self._on_attempt is not None:
            self._on_attempt(attempt)
