"""What the delivery telemetry costs per delivery, run by ``make bench``. Not a test: it prints.

One delivery is ``Endpoint.verify`` then ``Endpoint.run`` of a handler answering 200, on a
genuine 1 KiB delivery (the lifecycle every adapter drives, without a platform around it). Each
mode runs in a fresh interpreter, timed against the same lifecycle with its telemetry stubbed
out (``Watch`` and the hand-over replaced by objects doing nothing), pairs back to back:

  no extra      ``opentelemetry`` cannot be imported (a finder refuses it, as when the extra
                is not installed): the delivery log's level check is all that is left
  api, no SDK   ``opentelemetry-api`` importable, no SDK configured (what a library's users
                get by default): OpenTelemetry must cost next to nothing (target: <= 2 us)
  SDK, no-op    the SDK configured: a tracer provider whose batch processor hands spans to
                an exporter that drops them, a meter provider with a reader (the cost of
                making and ending the span and of recording both instruments)
  log at INFO   the delivery logger enabled at INFO with a handler that drops records

The delivery logger stays at Python's default (WARNING) except in the last mode.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from pathlib import Path

ROUNDS = 41
TARGET_US = 2.0
MODES = ("no extra", "api, no SDK", "SDK, no-op", "log at INFO")

_PROBE = r"""
import json, sys
sys.path.insert(0, {bench!r})
mode = {mode!r}
if mode == "no extra":
    class Absent:
        def find_spec(self, name, path=None, target=None):
            if name == "opentelemetry" or name.startswith("opentelemetry."):
                raise ModuleNotFoundError(name, name=name)
            return None
    sys.meta_path.insert(0, Absent())
if mode == "SDK, no-op":
    from opentelemetry import metrics, trace
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
    class Dropped(SpanExporter):
        def export(self, spans):
            return SpanExportResult.SUCCESS
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(Dropped()))
    trace.set_tracer_provider(provider)
    metrics.set_meter_provider(MeterProvider(metric_readers=[InMemoryMetricReader()]))
if mode == "log at INFO":
    import logging
    class Dropping(logging.Handler):
        def emit(self, record):
            pass
    logging.getLogger("qstash_receiver.delivery").addHandler(Dropping())
    logging.getLogger("qstash_receiver.delivery").setLevel(logging.INFO)

import timing
from qstash_receiver import Receiver, load_config, lifecycle
from qstash_receiver.integration import Endpoint, Options, Responder
from qstash_receiver.testing import DEMO_ENV, DEMO_KEYS, signed_headers

body = b'{{"order": 1, "pad": "' + b"x" * 1000 + b'"}}'
headers = signed_headers(body, key=DEMO_KEYS["US_EAST_1"][0], region="US_EAST_1", lifetime=86400)
endpoint = Endpoint(Options(), Receiver(config=load_config(DEMO_ENV)))
responder = Responder(lambda answer: answer.status, lambda result: result)

def deliver():
    message = endpoint.verify(headers, body)
    return endpoint.run(message, lambda: 200, responder)

class Nothing:  # the telemetry stubbed out: every method does nothing
    def __init__(self, *args, **kwargs): pass
    def start(self): return self
    def activate(self): return None
    def deactivate(self, token): pass
    def answered(self, status): pass
    def raised(self, error): pass
    def refused(self, answer): return answer
    def end(self, *args): pass

real = (lifecycle.Watch, lifecycle.handed_over, lifecycle.taken)
stub = (Nothing, lambda message, started: None, lambda message: 0)

def with_telemetry():
    lifecycle.Watch, lifecycle.handed_over, lifecycle.taken = real
    return deliver()

def without():
    lifecycle.Watch, lifecycle.handed_over, lifecycle.taken = stub
    return deliver()

assert with_telemetry() == 200 and without() == 200
samples = timing.measure(
    {{"with": with_telemetry, "without": without}}, {rounds}, [["with", "without"]]
)
loaded = any(name.startswith("opentelemetry") for name in sys.modules)
print(json.dumps({{"samples": samples, "otel_loaded": loaded}}))
"""


def _run(mode: str) -> dict[str, object]:
    script = _PROBE.format(bench=str(Path(__file__).parent), mode=mode, rounds=ROUNDS)
    done = subprocess.run(  # noqa: S603 (this interpreter, a script written above)
        [sys.executable, "-c", script], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"telemetry bench, mode {mode!r}: {done.stderr[-2000:]}")
    result: dict[str, object] = json.loads(done.stdout.splitlines()[-1])
    return result


def main() -> None:
    print(
        "delivery telemetry: microseconds per delivery (verify + run, 1 KiB), min of "
        f"{ROUNDS} rounds;\nthe same lifecycle with its telemetry stubbed out alongside\n"
    )
    header = f"{'mode':<14}{'with':>10}{'stubbed':>10}{'added':>10}{'paired':>10}  opentelemetry"
    print(header)
    print("-" * len(header))
    added: dict[str, float] = {}
    for mode in MODES:
        result = _run(mode)
        samples = result["samples"]
        assert isinstance(samples, dict)
        with_, without = samples["with"], samples["without"]
        paired = statistics.median(a - b for a, b in zip(with_, without, strict=True))
        added[mode] = min(with_) - min(without)  # the minima: the figures least touched by noise
        loaded = "imported" if result["otel_loaded"] else "not imported"
        print(
            f"{mode:<14}{min(with_):>10.2f}{min(without):>10.2f}"
            f"{min(with_) - min(without):>10.2f}{paired:>10.2f}  {loaded}"
        )
    print("\n(added: difference of the minima; paired: median of per-round differences)")
    print("\nTargets (issue 19)")
    verdict = "PASS" if added["api, no SDK"] <= TARGET_US else "MISS"
    print(
        f"  {verdict}  opentelemetry-api installed, no SDK: {added['api, no SDK']:.2f} us "
        f"per delivery (at most {TARGET_US:.0f} us)"
    )
    print(f"  (info) SDK with a no-op exporter: {added['SDK, no-op']:.2f} us per delivery")


if __name__ == "__main__":
    main()
