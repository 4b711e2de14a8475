"""The stand-in's schedules, queues, URL groups and logs, driven by the official Python SDK.

Every call here is one the SDK (`qstash` on PyPI) makes itself; the stand-in must answer in
shapes the SDK parses. Deliveries are checked by a real destination and verified with the
region's keys.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from destination import Delivery, Destination, destination
from publishing import sdk_client
from qstash import QStash
from qstash.errors import QStashError
from qstash.log import LogState
from qstash.message import PublishUrlGroupResponse
from verdicts import check_request

from qstash_receiver import Receiver, VerifiedMessage, load_config
from qstash_receiver.cli.dev.proto import Refused
from qstash_receiver.cli.dev.schedules import next_fire
from qstash_receiver.cli.dev.server import DevServer
from qstash_receiver.testing import DEMO_ENV

RECEIVER = Receiver(config=load_config(DEMO_ENV))


@pytest.fixture
def target() -> Iterator[Destination]:
    with destination() as state:
        yield state


@pytest.fixture
def dev() -> Iterator[DevServer]:
    with DevServer(backoff=0.05, timeout=5) as server:
        yield server


@pytest.fixture
def eu(dev: DevServer) -> Iterator[QStash]:
    with sdk_client("EU_CENTRAL_1", config=load_config(dev.env())) as client:
        yield client


def verified(delivery: Delivery, url: str) -> VerifiedMessage:
    result = check_request(RECEIVER, delivery.headers, delivery.body, url=url)
    assert isinstance(result, VerifiedMessage), result
    return result


def test_schedules_create_list_get_pause_and_delete(eu: QStash, target: Destination) -> None:
    first = eu.schedule.create(
        destination=target.url(), cron="*/5 * * * *", body='{"job": 1}',
        content_type="application/json", headers={"X-Job": "one"}, retries=2, delay="10s",
    )  # fmt: skip
    second = eu.schedule.create_json(
        destination=target.url("/other"), cron="CRON_TZ=Europe/Berlin 0 4 * * *", body={"n": 2},
        schedule_id="nightly",
    )  # fmt: skip
    assert second == "nightly"
    assert first.startswith("scd_")
    listed = {schedule.schedule_id: schedule for schedule in eu.schedule.list()}
    assert set(listed) == {first, second}
    one = eu.schedule.get(first)
    assert (one.destination, one.cron, one.body, one.retries, one.delay, one.paused) == (
        target.url(), "*/5 * * * *", '{"job": 1}', 2, 10, False,
    )  # fmt: skip
    assert one.headers == {"x-job": ["one"], "Content-Type": ["application/json"]}
    assert one.next_schedule_time is not None
    assert one.next_schedule_time % 300_000 == 0
    eu.schedule.pause(first)
    assert eu.schedule.get(first).paused is True
    eu.schedule.resume(first)
    assert eu.schedule.get(first).paused is False
    # Upstash-Schedule-Id updates: same id, new cron, the creation time kept.
    assert eu.schedule.create(destination=target.url(), cron="0 * * * *", schedule_id=second)
    updated = eu.schedule.get(second)
    assert (updated.cron, updated.created_at) == ("0 * * * *", listed[second].created_at)
    eu.schedule.delete(first)
    assert [s.schedule_id for s in eu.schedule.list()] == [second]
    with pytest.raises(QStashError, match="404"):
        eu.schedule.get(first)


def test_schedules_are_per_region(dev: DevServer, eu: QStash, target: Destination) -> None:
    eu.schedule.create(destination=target.url(), cron="* * * * *")
    with sdk_client("US_EAST_1", config=load_config(dev.env())) as us:
        assert us.schedule.list() == []


@pytest.mark.parametrize(
    "cron", ["* * * *", "61 * * * *", "CRON_TZ=Mars/Olympus 0 4 * * *", "* * * * * *"]
)
def test_a_bad_cron_is_refused(eu: QStash, target: Destination, cron: str) -> None:
    with pytest.raises(QStashError, match="400"):
        eu.schedule.create(destination=target.url(), cron=cron)
    assert eu.schedule.list() == []


def test_next_fire_follows_the_cron_and_its_time_zone() -> None:
    noon = 1_767_268_800.0  # 2026-01-01 12:00:00 UTC
    assert next_fire("*/15 * * * *", noon) == noon + 15 * 60
    assert next_fire("*/15 * * * *", noon + 1) == noon + 15 * 60
    # 04:00 in Berlin is 03:00 UTC in January: the next is tomorrow's.
    assert next_fire("CRON_TZ=Europe/Berlin 0 4 * * *", noon) == noon + 15 * 3600
    with pytest.raises(Refused):
        next_fire("not a cron at all", noon)


def test_a_schedule_fires_on_its_cron(target: Destination) -> None:
    # The stand-in's clock is moved to 0.6 s before a minute ends: "* * * * *" is due then.
    now = time.time()
    offset = (60 - now % 60) - 0.6
    with (
        DevServer(backoff=0.05, clock=lambda: time.time() + offset) as dev,
        sdk_client("EU_CENTRAL_1", config=load_config(dev.env())) as eu,
    ):
        schedule_id = eu.schedule.create(
            destination=target.url(), cron="* * * * *", body="tick", headers={"X-Run": "cron"}
        )
        [delivery] = target.wait_for("/hook", 1, timeout=10)
        schedule = eu.schedule.get(schedule_id)
        eu.schedule.delete(schedule_id)
    message = verified(delivery, target.url())
    assert message.key_region == "EU_CENTRAL_1"
    assert (delivery.body, delivery.headers["x-run"]) == (b"tick", "cron")
    assert delivery.headers["upstash-schedule-id"] == schedule_id
    assert schedule.last_schedule_time is not None
    assert schedule.next_schedule_time == schedule.last_schedule_time // 60_000 * 60_000 + 60_000


def test_firing_now_publishes_what_the_schedule_makes(
    dev: DevServer, eu: QStash, target: Destination
) -> None:
    schedule_id = eu.schedule.create(destination=target.url(), cron="0 0 1 1 *", body="yearly")
    [message_id] = dev.fire_schedule("EU_CENTRAL_1", schedule_id)
    assert dev.wait_for(message_id).ok
    [delivery] = target.at("/hook")
    assert verified(delivery, target.url()).message_id == message_id
    [log] = eu.log.list(filter={"message_id": message_id, "state": LogState.DELIVERED}).logs
    assert log.schedule_id == schedule_id
    eu.schedule.pause(schedule_id)
    assert dev.fire_schedule("EU_CENTRAL_1", schedule_id) == []  # a paused one makes nothing
    eu.schedule.delete(schedule_id)
    with pytest.raises(Refused):
        dev.fire_schedule("EU_CENTRAL_1", schedule_id)


def test_queues_upsert_list_get_and_delete(eu: QStash) -> None:
    eu.queue.upsert("emails", parallelism=2)
    eu.queue.upsert("reports", paused=True)
    created = eu.queue.get("emails").created_at
    eu.queue.upsert("emails", parallelism=5)
    queues = {queue.name: queue for queue in eu.queue.list()}
    assert set(queues) == {"emails", "reports"}
    assert (queues["emails"].parallelism, queues["emails"].created_at) == (5, created)
    assert (queues["reports"].paused, queues["reports"].lag) == (True, 0)
    eu.queue.delete("reports")
    assert [queue.name for queue in eu.queue.list()] == ["emails"]
    with pytest.raises(QStashError, match="404"):
        eu.queue.get("reports")


def test_a_publish_to_a_url_group_reaches_each_endpoint(
    dev: DevServer, eu: QStash, target: Destination
) -> None:
    eu.url_group.upsert_endpoints(
        url_group="billing",
        endpoints=[{"url": target.url("/a"), "name": "a"}, {"url": target.url("/b")}],
    )
    [group] = eu.url_group.list()
    assert (group.name, [(e.url, e.name) for e in group.endpoints]) == (
        "billing", [(target.url("/a"), "a"), (target.url("/b"), None)],
    )  # fmt: skip
    answers = eu.message.publish_json(url_group="billing", body={"invoice": 7})
    assert isinstance(answers, list)
    assert len(answers) == 2
    assert all(isinstance(a, PublishUrlGroupResponse) for a in answers)
    assert {a.url for a in answers} == {target.url("/a"), target.url("/b")}
    for answer in answers:
        assert dev.wait_for(answer.message_id).ok
        [delivery] = target.at(answer.url.removeprefix(target.base))
        assert verified(delivery, answer.url).message_id == answer.message_id
        assert delivery.headers["upstash-topic-name"] == "billing"
    eu.url_group.remove_endpoints(url_group="billing", endpoints=[{"name": "a"}])
    assert [e.url for e in eu.url_group.get("billing").endpoints] == [target.url("/b")]
    eu.url_group.delete("billing")
    assert eu.url_group.list() == []
    with pytest.raises(QStashError, match="400"):  # no such group, and not a URL
        eu.message.publish_json(url_group="billing", body={})


def test_logs_follow_each_state_and_filter_by_it(
    dev: DevServer, eu: QStash, target: Destination
) -> None:
    from destination import Answer

    target.answer("/flaky", Answer(503), Answer(200))
    ok = eu.message.publish_json(url=target.url(), body={}).message_id  # type: ignore[union-attr]
    flaky = eu.message.publish_json(url=target.url("/flaky"), body={}).message_id  # type: ignore[union-attr]
    later = eu.message.publish_json(url=target.url(), body={}, delay="1h").message_id  # type: ignore[union-attr]
    dev.wait_for(ok)
    dev.wait_for(flaky)
    states = [log.state.value for log in eu.log.list(filter={"message_id": flaky}).logs]
    assert states == ["DELIVERED", "ACTIVE", "RETRY", "ERROR", "ACTIVE", "CREATED"]
    delivered = eu.log.list(filter={"state": LogState.DELIVERED}).logs
    assert {log.message_id for log in delivered} == {ok, flaky}
    created = eu.log.list(filter={"state": LogState.CREATED}).logs
    assert {log.message_id for log in created} == {ok, flaky, later}
    [waiting] = [log for log in created if log.message_id == later]
    assert waiting.next_delivery_time is not None
    assert waiting.next_delivery_time - waiting.time == 3_600_000
    by_url = eu.log.list(filter={"url": target.url("/flaky"), "state": LogState.ACTIVE}).logs
    assert [(log.message_id, log.state.value) for log in by_url] == [(flaky, "ACTIVE")] * 2
    in_progress = eu.log.list(filter={"state": LogState.IN_PROGRESS}).logs
    assert {log.state.value for log in in_progress} == {"ACTIVE", "RETRY", "ERROR"}
    # Pages of two, newest first, through the cursor: every entry once.
    seen, cursor = [], None
    while True:
        page = eu.log.list(count=2, cursor=cursor)
        seen += [(log.message_id, log.state.value, log.time) for log in page.logs]
        if page.cursor is None:
            break
        cursor = page.cursor
    assert len(seen) == len(set(seen)) == 10  # 3 created, 3 active, 1 error, 1 retry, 2 delivered
    assert [entry[2] for entry in seen] == sorted((entry[2] for entry in seen), reverse=True)
    with sdk_client("US_EAST_1", config=load_config(dev.env())) as us:
        assert us.log.list().logs == []  # the other region's logs are its own


def test_the_logs_api_refuses_an_unknown_state_and_a_bad_count(eu: QStash) -> None:
    with pytest.raises(QStashError, match="400"):
        eu.log.list(count=0)
    with pytest.raises(QStashError, match="400"):
        eu.http.request(path="/v2/events", method="GET", params={"state": "SOMETIME"})


def test_the_dlq_exists_and_lists_a_group_message(
    dev: DevServer, eu: QStash, target: Destination
) -> None:
    from destination import Answer

    target.answer("/dead", Answer(489, {"Upstash-NonRetryable-Error": "true"}))
    eu.url_group.upsert_endpoints(url_group="g", endpoints=[{"url": target.url("/dead")}])
    [answer] = eu.message.publish_json(url_group="g", body={})  # type: ignore[misc]
    assert dev.wait_for(answer.message_id).dlq_id is not None
    [dead] = eu.dlq.list().messages
    assert (dead.message_id, dead.url_group, dead.url) == (
        answer.message_id,
        "g",
        target.url("/dead"),
    )
