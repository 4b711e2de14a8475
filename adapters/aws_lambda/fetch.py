"""Fetching one stored value through Powertools Parameters, and reading it as key material."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from qstash_receiver import ConfigError

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.parameters.base import BaseProvider
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_ssm import SSMClient

__all__ = [
    "Fetcher", "KeyFetchError", "error_code", "parse_values", "secrets_provider", "ssm_provider"
]  # fmt: skip


class KeyFetchError(ConfigError):
    """The signing keys could not be fetched or read (answered 500, so QStash retries)."""


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
        return self._provider.get(self._name, max_age=self._max_age, **self._options)


def error_code(error: BaseException) -> str:
    # Powertools wraps the botocore error; its code (e.g. AccessDeniedException) says enough.
    cause = error.__cause__ or error.__context__ or error
    response = getattr(cause, "response", None)
    code = response.get("Error", {}).get("Code") if isinstance(response, dict) else None
    return str(code or type(cause).__name__)


def parse_values(raw: object, source: str) -> dict[str, str]:
    # Messages never quote the content: it is key material.
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        values = json.loads(text) if isinstance(text, str) else None
    except (ValueError, RecursionError) as err:  # bad UTF-8 or JSON, absurd nesting
        raise KeyFetchError(f"{source} is not a JSON object of strings") from err
    if not isinstance(values, dict) or not all(isinstance(v, str) for v in values.values()):
        raise KeyFetchError(f"{source} is not a JSON object of strings")
    return values


# Imported here, on the first fetch: Powertools Parameters imports boto3 (a slow import).
def secrets_provider(client: SecretsManagerClient | None) -> BaseProvider:
    """A Powertools Secrets Manager provider (boto3's default client unless given)."""
    from aws_lambda_powertools.utilities.parameters import SecretsProvider

    return SecretsProvider(boto3_client=client)


def ssm_provider(client: SSMClient | None) -> BaseProvider:
    """A Powertools SSM Parameter Store provider (boto3's default client unless given)."""
    from aws_lambda_powertools.utilities.parameters import SSMProvider

    return SSMProvider(boto3_client=client)
