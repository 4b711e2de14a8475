"""Signing keys kept in AWS Secrets Manager or SSM Parameter Store (via Powertools Parameters).

The secret or parameter holds a JSON object of environment-variable names to values, e.g.
``{"QSTASH_CURRENT_SIGNING_KEY": "sig_...", "QSTASH_NEXT_SIGNING_KEY": "sig_..."}`` or the
``US_EAST_1_``/``EU_CENTRAL_1_`` prefixed pairs. It is laid over the environment and handed to
``load_config``, so the resolution rules stay in one place.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Final

from qstash_receiver import ConfigError, Receiver, load_config
from qstash_receiver import names as N
from qstash_receiver.sources import StoredKeys

if TYPE_CHECKING:  # boto3 and Powertools Parameters are imported when keys are first fetched
    from aws_lambda_powertools.utilities.parameters.base import BaseProvider
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_ssm import SSMClient

__all__ = [
    "DEFAULT_MAX_AGE", "PARAMETER_VARIABLE", "SECRET_VARIABLE",
    "KeyFetchError", "StoredKeysReceiver", "receiver_from_env",
]  # fmt: skip

#: Names a Secrets Manager secret (name or ARN) holding the keys as a JSON object.
SECRET_VARIABLE: Final = N.QSTASH_SIGNING_KEYS_SECRET
#: Names an SSM parameter (SecureString or String) holding the keys as a JSON object.
PARAMETER_VARIABLE: Final = N.QSTASH_SIGNING_KEYS_PARAMETER
#: Seconds a fetched value is reused. Rolling keys is safe meanwhile: the old next key
#: becomes the new current key, and it is in the cached pair.
DEFAULT_MAX_AGE: Final = 300


class KeyFetchError(ConfigError):
    """The signing keys could not be fetched or read (answered 500, so QStash retries)."""


# botocore logs every response body at DEBUG ("Response body: ..."): for our fetch, that is the
# secret itself. These records are dropped while *this* context (thread or task) fetches keys;
# everyone else's botocore logging, at any level, is left as it is.
_SECRET_BODY_LOGGERS: Final = ("botocore.parsers",)
_fetching: ContextVar[bool] = ContextVar("qstash_receiver_fetching_keys", default=False)


class _DuringKeyFetch(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not _fetching.get()


_DURING_KEY_FETCH = _DuringKeyFetch()


class Fetcher:
    """Fetches one stored value through a Powertools provider, built on first use."""

    def __init__(
        self, make_provider: Callable[[], BaseProvider], name: str, max_age: int, **options: Any
    ) -> None:
        self._make_provider, self._name, self._max_age = make_provider, name, max_age
        self._options = options
        self._provider: BaseProvider | None = None

    def __call__(self) -> object:
        if self._provider is None:  # builds a boto3 client, which may fail: not in __init__
            self._provider = self._make_provider()
            for name in _SECRET_BODY_LOGGERS:  # addFilter ignores a filter already there
                logging.getLogger(name).addFilter(_DURING_KEY_FETCH)
        reset = _fetching.set(True)
        try:
            return self._provider.get(self._name, max_age=self._max_age, **self._options)
        finally:
            _fetching.reset(reset)


def _error_code(error: BaseException) -> str:
    # Powertools wraps the botocore error; its code (e.g. AccessDeniedException) says enough.
    cause = error.__cause__ or error.__context__ or error
    response = getattr(cause, "response", None)
    code = response.get("Error", {}).get("Code") if isinstance(response, dict) else None
    return str(code or type(cause).__name__)


def _parse_values(raw: object, source: str) -> dict[str, str]:
    # Messages never quote the content: it is key material. Nor is the decoding error chained
    # (raised outside the except block): UnicodeDecodeError keeps the bytes in its args, and
    # JSONDecodeError the whole text in .doc.
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        values = json.loads(text) if isinstance(text, str) else None
    except (ValueError, RecursionError):  # bad UTF-8 or JSON, absurd nesting
        values = None
    if not isinstance(values, dict) or not all(isinstance(v, str) for v in values.values()):
        raise KeyFetchError(f"{source} is not a JSON object of strings")
    return values


# Imported here, on the first fetch: Powertools Parameters imports boto3 (a slow import).
def _secrets_provider(client: SecretsManagerClient | None) -> BaseProvider:
    from aws_lambda_powertools.utilities.parameters import SecretsProvider

    return SecretsProvider(boto3_client=client)


def _ssm_provider(client: SSMClient | None) -> BaseProvider:
    from aws_lambda_powertools.utilities.parameters import SSMProvider

    return SSMProvider(boto3_client=client)


class StoredKeysReceiver(Receiver):
    """A [`Receiver`][qstash_receiver.Receiver] whose signing keys live in Secrets Manager or SSM
    Parameter Store.

    Build it with
    [`from_secret()`][qstash_receiver.adapters.aws_lambda.StoredKeysReceiver.from_secret] /
    [`from_parameter()`][qstash_receiver.adapters.aws_lambda.StoredKeysReceiver.from_parameter]. The
    value is fetched on the first delivery, reused for ``max_age`` seconds (Powertools Parameters
    caching) and laid over the environment (its values win). A failed fetch or unreadable value
    raises [`KeyFetchError`][qstash_receiver.adapters.aws_lambda.KeyFetchError] from
    [`config`][qstash_receiver.config]: answered 500, logged with the source's name and the AWS
    error code, never its content.
    """

    def __init__(
        self,
        fetch: Callable[[], object],
        source: str,
        *,
        env: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._description = source

        def fetched() -> object:
            try:
                return fetch()
            except Exception as error:  # any fetch failure must become a retryable 500
                raise KeyFetchError(
                    f"cannot fetch the QStash signing keys from {source} ({_error_code(error)})"
                ) from error

        super().__init__(
            source=StoredKeys(fetched, lambda raw: _parse_values(raw, source), env=env),
            clock=clock,
        )

    @classmethod
    def from_secret(
        cls,
        secret_id: str,
        *,
        client: SecretsManagerClient | None = None,
        env: Mapping[str, str] | None = None,
        max_age: int = DEFAULT_MAX_AGE,
    ) -> StoredKeysReceiver:
        """Keys from the Secrets Manager secret ``secret_id`` (name or ARN).

        Needs ``secretsmanager:GetSecretValue`` on that secret (and ``kms:Decrypt`` for a
        customer-managed KMS key). ``env`` is the environment the secret's values are laid
        over (default: ``os.environ``); ``client`` defaults to boto3's.
        """
        fetch = Fetcher(lambda: _secrets_provider(client), secret_id, max_age)
        return cls(fetch, f"Secrets Manager secret {secret_id!r}", env=env)

    @classmethod
    def from_parameter(
        cls,
        name: str,
        *,
        client: SSMClient | None = None,
        env: Mapping[str, str] | None = None,
        max_age: int = DEFAULT_MAX_AGE,
    ) -> StoredKeysReceiver:
        """Keys from the SSM parameter ``name`` (a SecureString is decrypted).

        Needs ``ssm:GetParameter`` on that parameter (and ``kms:Decrypt`` for its key).
        """
        fetch = Fetcher(lambda: _ssm_provider(client), name, max_age, decrypt=True)
        return cls(fetch, f"SSM parameter {name!r}", env=env)

    def __repr__(self) -> str:
        return f"StoredKeysReceiver({self._description})"


def receiver_from_env(env: Mapping[str, str] | None = None) -> Receiver:
    """The receiver an adapter uses by default.

    With ``QSTASH_SIGNING_KEYS_SECRET`` set, a
    [`StoredKeysReceiver`][qstash_receiver.adapters.aws_lambda.StoredKeysReceiver] for that secret;
    with ``QSTASH_SIGNING_KEYS_PARAMETER``, one for that SSM parameter; otherwise a plain
    [`Receiver`][qstash_receiver.Receiver] reading the environment (``load_config``). Nothing is
    fetched here.

    Raises:
        ConfigError: both variables are set, or (``env`` given) the environment is invalid.
    """
    source = os.environ if env is None else env
    secret, parameter = source.get(SECRET_VARIABLE), source.get(PARAMETER_VARIABLE)
    if secret and parameter:
        raise ConfigError(f"set {SECRET_VARIABLE} or {PARAMETER_VARIABLE}, not both")
    if secret:
        return StoredKeysReceiver.from_secret(secret, env=env)
    if parameter:
        return StoredKeysReceiver.from_parameter(parameter, env=env)
    return Receiver() if env is None else Receiver(config=load_config(env))
