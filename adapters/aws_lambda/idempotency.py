"""``PowertoolsStore``: the duplicate-delivery guard in Powertools Idempotency's persistence.

::

    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer
    from qstash_receiver.adapters.aws_lambda import verify_qstash
    from qstash_receiver.adapters.aws_lambda.idempotency import PowertoolsStore

    store = PowertoolsStore(DynamoDBPersistenceLayer(table_name=os.environ["IDEMPOTENCY_TABLE"]))

    @verify_qstash(dedupe=store)
    def handler(event, context): ...

The layer's own records are used as Powertools writes them (``INPROGRESS`` with an in-progress
expiry, ``COMPLETED``, deleted on failure), so the table is the one Powertools documents (``id``
key, TTL on ``expiration``) and may be shared with ``@idempotent`` functions.
"""

from __future__ import annotations

import time
from typing import Any

from aws_lambda_powertools.utilities.idempotency.config import IdempotencyConfig
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyItemAlreadyExistsError,
    IdempotencyItemNotFoundError,
)
from aws_lambda_powertools.utilities.idempotency.persistence.base import BasePersistenceLayer
from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import (
    STATUS_CONSTANTS,
    DataRecord,
)

from qstash_receiver.dedupe import DEFAULT_LEASE, DEFAULT_RETENTION, Claim, Held, check_seconds

__all__ = ["PowertoolsStore"]

_RETRIES = 3


class _Released(Exception):
    """What Powertools' ``delete_record`` is told the function raised (it logs the type)."""


class PowertoolsStore:
    """A guard store over a Powertools Idempotency persistence layer (DynamoDB or Redis).

    Give it a layer of its own (``DynamoDBPersistenceLayer(...)``,
    ``CachePersistenceLayer(...)``): it configures it with the guard's retention and a key of
    its own (``<key_prefix>#<md5 of the message key>``); a layer already configured by
    ``@idempotent`` is refused, because its JMESPath would pick the wrong key.

    Args:
        persistence: the layer.
        retention: seconds a done message is remembered (the record's ``expiration``).
        lease: seconds a claim lasts at most (the record's in-progress expiry); on Lambda
            also at most the invocation's remaining time.
        key_prefix: the records' key prefix (default ``qstash``).

    Raises:
        ValueError: the layer was configured already, or ``retention``/``lease`` is not a
            finite number > 0.
        TypeError: ``retention``/``lease`` is not a number.
    """

    def __init__(
        self,
        persistence: BasePersistenceLayer,
        *,
        retention: float = DEFAULT_RETENTION,
        lease: float = DEFAULT_LEASE,
        key_prefix: str = "qstash",
    ) -> None:
        if persistence.configured:
            raise ValueError("PowertoolsStore needs a persistence layer of its own")
        self.retention = check_seconds(retention, "retention")
        self.lease = check_seconds(lease, "lease")
        persistence.configure(
            IdempotencyConfig(expires_after_seconds=int(self.retention)), key_prefix=key_prefix
        )
        self.persistence = persistence

    @staticmethod
    def _data(key: str) -> dict[str, Any]:
        return {"qstash_message": key}

    def claim(self, key: str, lease: float) -> Claim | Held:
        """Save an ``INPROGRESS`` record expiring after ``lease``, or report who holds it."""
        data = self._data(key)
        for _ in range(_RETRIES):
            taken_at = time.monotonic()
            try:
                self.persistence.save_inprogress(data, remaining_time_in_millis=int(lease * 1000))
            except IdempotencyItemAlreadyExistsError as error:
                held = self._held(error.old_data_record or self._record(data))
                if held is not None:
                    return held
                continue  # deleted or expired in between: claim again
            return Claim(key, "", lease, taken_at)
        return Held(done=False, retry_after=1.0)

    def complete(self, claim: Claim) -> None:
        """Update the record to ``COMPLETED`` for the retention."""
        self.persistence.save_success(self._data(claim.key), result={})

    def release(self, claim: Claim) -> None:
        """Delete the record (the guard does so only while the claim is alive)."""
        self.persistence.delete_record(self._data(claim.key), _Released())

    def _record(self, data: dict[str, Any]) -> DataRecord | None:
        try:
            return self.persistence.get_record(data)
        except IdempotencyItemNotFoundError:
            return None

    @staticmethod
    def _held(record: DataRecord | None) -> Held | None:
        if record is None:
            return None
        status = record.status  # EXPIRED once past the retention: free to claim
        if status == STATUS_CONSTANTS["COMPLETED"]:
            return Held(done=True)
        if status != STATUS_CONSTANTS["INPROGRESS"]:
            return None
        # DynamoDB gives Decimal numbers, Redis ints.
        expiry = record.in_progress_expiry_timestamp
        if expiry is None:  # written without an in-progress expiry: held until it expires
            return Held(done=False, retry_after=float(record.expiry_timestamp or 0) - time.time())
        remaining = float(expiry) / 1000 - time.time()
        return Held(done=False, retry_after=remaining) if remaining > 0 else None

    def __repr__(self) -> str:
        return f"PowertoolsStore({type(self.persistence).__name__}, retention={self.retention:g})"
