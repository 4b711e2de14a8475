"""Deliveries seen the Powertools way: EMF metrics and X-Ray subsegments.

Hand your Powertools ``Metrics`` and ``Tracer`` to ``verify_qstash(metrics=..., tracer=...)``
(or to ``QStashMiddleware``): each delivery is then counted as CloudWatch metrics, printed in
the Embedded Metric Format with its own ``region`` and ``outcome`` dimensions (besides your
``service`` and default dimensions; your own metrics keep theirs), and traced as a subsegment
``## QStash delivery`` around the handler, annotated with its outcome, region and message id.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from qstash_receiver.telemetry import DeliveryRecord

if TYPE_CHECKING:
    from aws_lambda_powertools import Metrics, Tracer

__all__ = ["COUNT_METRIC", "DURATION_METRIC", "SUBSEGMENT", "PowertoolsObserver"]

#: The metric counting deliveries (unit Count), and the one timing them (Milliseconds).
COUNT_METRIC = "QStashDeliveries"
DURATION_METRIC = "QStashDeliveryDuration"
#: The name of each delivery's subsegment (Powertools names its own ``## <function>``).
SUBSEGMENT = "## QStash delivery"


class PowertoolsObserver:
    """An [`Observer`][qstash_receiver.telemetry.Observer] writing to Powertools' metrics and
    tracer (either may be ``None``).

    Args:
        metrics: your ``Metrics``: its namespace, service and default dimensions are used.
        tracer: your ``Tracer``: subsegments go through its provider (none when disabled).
    """

    def __init__(self, metrics: Metrics | None = None, tracer: Tracer | None = None) -> None:
        self._metrics, self._tracer = metrics, tracer

    def begin(self) -> Callable[[DeliveryRecord], None]:
        """Open the delivery's subsegment (when tracing); the function that closes it and
        emits the metrics."""
        tracer = self._tracer
        scope: Any = None
        segment: Any = None
        if tracer is not None and not tracer.disabled:
            scope = tracer.provider.in_subsegment(name=SUBSEGMENT)
            segment = scope.__enter__()

        def end(record: DeliveryRecord) -> None:
            try:
                if segment is not None:
                    segment.put_annotation("qstash_outcome", record.outcome)
                    segment.put_annotation("qstash_region", record.region or "unknown")
                    if record.message_id is not None:
                        segment.put_annotation("qstash_message_id", record.message_id)
                    if record.error_type is not None:
                        segment.put_annotation("qstash_error_type", record.error_type)
            finally:
                if scope is not None:
                    scope.__exit__(None, None, None)
            if self._metrics is not None:
                self._emit(self._metrics, record)

        return end

    @staticmethod
    def _emit(metrics: Metrics, record: DeliveryRecord) -> None:
        # Here: whoever passes Metrics has imported this module already; nobody else pays.
        from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

        # A blob of its own (Powertools' "ephemeral metrics"): dimensions added to the user's
        # Metrics would apply to every metric of theirs in this invocation.
        emf = EphemeralMetrics(
            namespace=metrics.namespace,
            service=metrics.service,
            default_dimensions=dict(metrics.default_dimensions),
        )
        emf.add_dimension(name="region", value=record.region or "unknown")
        emf.add_dimension(name="outcome", value=record.outcome)
        emf.add_metric(name=COUNT_METRIC, unit=MetricUnit.Count, value=1)
        emf.add_metric(
            name=DURATION_METRIC, unit=MetricUnit.Milliseconds, value=record.duration * 1000
        )
        emf.flush_metrics()


def observer(metrics: Metrics | None, tracer: Tracer | None) -> PowertoolsObserver | None:
    """The observer of ``verify_qstash(metrics=..., tracer=...)``; ``None`` for neither."""
    return None if metrics is None and tracer is None else PowertoolsObserver(metrics, tracer)
