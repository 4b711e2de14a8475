"""Signing keys kept in AWS Secrets Manager or SSM Parameter Store (via Powertools Parameters).

The secret or parameter holds a JSON object of environment-variable names to values, e.g.
``{"QSTASH_CURRENT_SIGNING_KEY": "sig_...", "QSTASH_NEXT_SIGNING_KEY": "sig_..."}`` or the
``US_EAST_1_``/``EU_CENTRAL_1_`` prefixed pairs. It is laid over the environment and handed to
``load_config``, so the resolution rules stay in one place.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Final

from qstash_receiver import ConfigError, QStashConfig, Receiver, load_config

from .fetch import Fetcher, KeyFetchError, error_code, parse_values, secrets_provider, ssm_provider

if TYPE_CHECKING:  # boto3 and Powertools Parameters are imported when keys are first fetched
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_ssm import SSMClient

__all__ = [
    "DEFAULT_MAX_AGE", "PARAMETER_VARIABLE", "SECRET_VARIABLE",
    "KeyFetchError", "StoredKeysReceiver", "receiver_from_env",
]  # fmt: skip

#: Names a Secrets Manager secret (name or ARN) holding the keys as a JSON object.
SECRET_VARIABLE: Final = "QSTASH_SIGNING_KEYS_SECRET"  # noqa: S105 (a variable name)
#: Names an SSM parameter (SecureString or String) holding the keys as a JSON object.
PARAMETER_VARIABLE: Final = "QSTASH_SIGNING_KEYS_PARAMETER"
#: Seconds a fetched value is reused. Rolling keys is safe meanwhile: the old next key
#: becomes the new current key, and it is in the cached pair.
DEFAULT_MAX_AGE: Final = 300


class StoredKeysReceiver(Receiver):
    """A :class:`Receiver` whose signing keys live in Secrets Manager or SSM Parameter Store.

    Build it with :meth:`from_secret` / :meth:`from_parameter`. The value is fetched on the
    first delivery, reused for ``max_age`` seconds (Powertools Parameters caching) and laid
    over the environment (its values win). A failed fetch or unreadable value raises
    :class:`KeyFetchError` from :attr:`config`: answered 500, logged with the source's name
    and the AWS error code, never its content.
    """

    def __init__(
        self,
        fetch: Callable[[], object],
        source: str,
        *,
        env: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(clock=clock)
        self._fetch, self._source, self._env = fetch, source, env
        self._loaded: tuple[object, QStashConfig] | None = None

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
        fetch = Fetcher(lambda: secrets_provider(client), secret_id, max_age)
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
        fetch = Fetcher(lambda: ssm_provider(client), name, max_age, decrypt=True)
        return cls(fetch, f"SSM parameter {name!r}", env=env)

    @property
    def config(self) -> QStashConfig:
        """The configuration built from the stored keys over the environment.

        Raises:
            KeyFetchError: the fetch failed or the value is not a JSON object of strings.
            ConfigError: the resulting configuration is invalid.
        """
        try:
            raw = self._fetch()
        except Exception as error:  # any fetch failure must become a retryable 500
            raise KeyFetchError(
                f"cannot fetch the QStash signing keys from {self._source} ({error_code(error)})"
            ) from error
        if self._loaded is None or self._loaded[0] != raw:
            values = parse_values(raw, self._source)
            base = os.environ if self._env is None else self._env
            self._loaded = (raw, load_config({**base, **values}))
        return self._loaded[1]

    def __repr__(self) -> str:
        return f"StoredKeysReceiver({self._source})"


def receiver_from_env(env: Mapping[str, str] | None = None) -> Receiver:
    """The receiver an adapter uses by default.

    With ``QSTASH_SIGNING_KEYS_SECRET`` set, a :class:`StoredKeysReceiver` for that secret;
    with ``QSTASH_SIGNING_KEYS_PARAMETER``, one for that SSM parameter; otherwise a plain
    :class:`Receiver` reading the environment (``load_config``). Nothing is fetched here.

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
