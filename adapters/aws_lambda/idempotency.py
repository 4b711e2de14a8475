"""``PowertoolsStore``: the duplicate-delivery guard in Powertools Idempotency's persistence.


```python
from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer
from qstash_receiver.adapters.aws_lambda import verify_qstash
from qstash_receiver.adapters.aws_lambda.idempotency import PowertoolsStore

store = PowertoolsStore(DynamoDBPersistenceLayer(table_name=os.environ["IDEMPOTENCY_TABLE"]))

@verify_qstash(dedupe=store)
def handler(event, context): ...
```

The layer's own records are used as Powertools writes them (``INPROGRESS`` with an in-progress
expiry, ``COMPLETED``, deleted on failure), so the table is the one Powertools documents (``id``
key, TTL on ``expiration``) and may be shared with ``@idempotent`` functions.
"""

from __future__ import annotations

import json
import math
import time
from typing import Any

from aws_lambda_powertools.utilities.idempotency.config import IdempotencyConfig
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyItemAlreadyExistsError,
    IdempotencyItemNotFoundError,
    IdempotencyValidationError,
)
from aws_lambda_powertools.utilities.idempotency.persistence.base import BasePersistenceLayer
from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import (
    STATUS_CONSTANTS,
    DataRecord,
)

from qstash_receiver.claims import new_token
from qstash_receiver.dedupe import (
    DEFAULT_LEASE,
    DEFAULT_RETENTION,
    DEFAULT_TIMEOUT,
    Binding,
    Claim,
    Held,
    check_seconds,
)

__all__ = ["PowertoolsStore"]

_RETRIES = 3
_INPROGRESS = STATUS_CONSTANTS["INPROGRESS"]
_MESSAGE, _TOKEN = "qstash_message", "qstash_claim"
#: The record key is the hash of ``{"qstash_message": key}``, as before tokens were recorded.
_KEY_PATH = f"{{{_MESSAGE}: {_MESSAGE}}}"


class _Released(Exception):
    """What Powertools' ``delete_record`` is told the function raised (it logs the type)."""


class PowertoolsStore:
    """A guard store over a Powertools Idempotency persistence layer (DynamoDB or Redis).

    Give it a layer of its own (``DynamoDBPersistenceLayer(...)``,
    ``CachePersistenceLayer(...)``): it configures it with the guard's retention, a key of its
    own (``<key_prefix>#<md5 of the message key>``) and the claim's token as the record's
    validation hash (so a claim retried after a lost reply is recognised as this delivery's
    own); a layer already configured by ``@idempotent`` is refused. A claim is renewed while
    the handler runs with a conditional update of its in-progress expiry (DynamoDB), or a
    read-then-write while the claim is alive (the Redis layer). A signature's ``jti`` is bound
    to its first message key by a second in-progress record that expires with the token.

    Args:
        persistence: the layer.
        retention: seconds a done message is remembered (the record's ``expiration``).
        lease: seconds a claim outlives a dead worker (the record's in-progress expiry); on
            Lambda also at most the invocation's remaining time.
        key_prefix: the records' key prefix (default ``qstash``).
        timeout: the longest one store call may hold a request (default 3 s).

    Raises:
        ValueError: the layer was configured already, or ``retention``/``lease``/``timeout``
            is not a finite number > 0.
        TypeError: ``retention``/``lease``/``timeout`` is not a number.
    """

    def __init__(
        self,
        persistence: BasePersistenceLayer,
        *,
        retention: float = DEFAULT_RETENTION,
        lease: float = DEFAULT_LEASE,
        key_prefix: str = "qstash",
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        if persistence.configured:
            raise ValueError("PowertoolsStore needs a persistence layer of its own")
        self.retention = check_seconds(retention, "retention")
        self.lease = check_seconds(lease, "lease")
        self.timeout = check_seconds(timeout, "timeout")
        config = IdempotencyConfig(
            expires_after_seconds=int(self.retention),
            event_key_jmespath=_KEY_PATH,
            payload_validation_jmespath=_TOKEN,
        )
        persistence.configure(config, key_prefix=key_prefix)
        self.persistence = persistence

    @staticmethod
    def _data(key: str, token: str = "") -> dict[str, Any]:
        return {_MESSAGE: key, _TOKEN: token}

    def _ours(self, record: DataRecord, token: str) -> bool:
        return bool(token) and record.payload_hash == self.persistence._generate_hash(token)

    def claim(
        self, key: str, lease: float, *, token: str | None = None, bind: Binding | None = None
    ) -> Claim | Held:
        """Save an ``INPROGRESS`` record expiring after ``lease``, or report who holds it."""
        token = token or new_token()
        if bind is not None and not self._bind(bind, key):
            return Held(done=False, replayed=True)
        data, taken_at = self._data(key, token), time.monotonic()
        for _ in range(_RETRIES):
            try:
                self.persistence.save_inprogress(data, remaining_time_in_millis=_ms(lease))
            except (IdempotencyItemAlreadyExistsError, IdempotencyValidationError) as error:
                record = getattr(error, "old_data_record", None) or self._record(key)
                if (
                    record is not None
                    and self._ours(record, token)
                    and record.status == _INPROGRESS
                ):
                    return Claim(key, token, lease, taken_at)  # a retried save landed
                held = self._held(record)
                if held is not None:
                    return held
                continue  # deleted or expired in between: claim again
            return Claim(key, token, lease, taken_at)
        return Held(done=False, retry_after=1.0)

    def _bind(self, bind: Binding, key: str) -> bool:
        try:
            self.persistence.save_inprogress(self._data(bind.key, key), _ms(bind.ttl))
        except (IdempotencyItemAlreadyExistsError, IdempotencyValidationError) as error:
            record = getattr(error, "old_data_record", None) or self._record(bind.key)
            return record is None or self._ours(record, key) or self._held(record) is None
        return True

    def extend(self, claim: Claim, lease: float) -> Claim | None:
        """Move the record's in-progress expiry while it still holds this claim's token."""
        taken_at = time.monotonic()
        expiry = _ms_at(time.time() + lease)
        layer: Any = self.persistence
        idempotency_key = layer._get_hashed_idempotency_key(self._data(claim.key))
        ours = layer._generate_hash(claim.token)
        if hasattr(layer, "table_name"):  # DynamoDB: one conditional update
            try:
                layer.client.update_item(
                    TableName=layer.table_name,
                    Key=layer._get_key(idempotency_key),
                    UpdateExpression="SET #in_progress = :expiry",
                    ConditionExpression="#status = :inprogress AND #validation = :ours",
                    ExpressionAttributeNames={
                        "#in_progress": layer.in_progress_expiry_attr,
                        "#status": layer.status_attr,
                        "#validation": layer.validation_key_attr,
                    },
                    ExpressionAttributeValues={
                        ":expiry": {"N": str(expiry)},
                        ":inprogress": {"S": _INPROGRESS},
                        ":ours": {"S": ours},
                    },
                )
            except layer.client.exceptions.ConditionalCheckFailedException:
                return None
            return claim.renewed(lease, taken_at)
        record = self._record(claim.key)  # the Redis layer: read, then write while alive
        if not claim.alive() or record is None or record.status != _INPROGRESS:
            return None
        if record.payload_hash != ours:
            return None
        item = {
            layer.status_attr: _INPROGRESS,
            layer.expiry_attr: record.expiry_timestamp,
            layer.in_progress_expiry_attr: expiry,
            layer.validation_key_attr: ours,
        }
        seconds = max(1, int((record.expiry_timestamp or 0) - time.time()))
        layer.client.set(name=idempotency_key, value=json.dumps(item), ex=seconds)
        return claim.renewed(lease, taken_at)

    def complete(self, claim: Claim) -> None:
        """Update the record to ``COMPLETED`` for the retention."""
        self.persistence.save_success(self._data(claim.key, claim.token), result={})

    def release(self, claim: Claim) -> None:
        """Delete the record while it holds this claim's token and the claim is alive."""
        record = self._record(claim.key)
        if record is None or not claim.alive() or record.status != _INPROGRESS:
            return
        if self._ours(record, claim.token):
            self.persistence.delete_record(self._data(claim.key, claim.token), _Released())

    def _record(self, key: str) -> DataRecord | None:
        layer: Any = self.persistence  # read without Powertools' payload validation
        try:
            record: DataRecord = layer._get_record(
                layer._get_hashed_idempotency_key(self._data(key))
            )
        except IdempotencyItemNotFoundError:
            return None
        return record

    @staticmethod
    def _held(record: DataRecord | None) -> Held | None:
        if record is None:
            return None
        status = record.status  # EXPIRED once past the retention: free to claim
        if status == STATUS_CONSTANTS["COMPLETED"]:
            return Held(done=True)
        if status != _INPROGRESS:
            return None
        # DynamoDB gives Decimal numbers, Redis ints.
        expiry = record.in_progress_expiry_timestamp
        if expiry is None:  # written without an in-progress expiry: held until it expires
            return Held(done=False, retry_after=float(record.expiry_timestamp or 0) - time.time())
        remaining = float(expiry) / 1000 - time.time()
        return Held(done=False, retry_after=remaining) if remaining > 0 else None

    def __repr__(self) -> str:
        return f"PowertoolsStore({type(self.persistence).__name__}, retention={self.retention:g})"


def _ms(seconds: float) -> int:
    return max(1, math.ceil(seconds * 1000))


def _ms_at(when: float) -> int:
    return math.floor(when * 1000)
