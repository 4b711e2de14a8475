"""What the configuration resolvers find: [`ConfigWarning`][qstash_receiver.keys.ConfigWarning].

A module of its own so that every resolver (signing keys in [`.config`][qstash_receiver.config],
publishing credentials in `.credentials`) reports in the same type without importing another.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ConfigWarning"]


@dataclass(frozen=True)
class ConfigWarning:
    """A resolver finding: a stable ``code`` for tools (Django checks, ``doctor``) and its text.

    [`load_config()`][qstash_receiver.load_config] only returns them (``QStashConfig.warnings``);
    whoever uses the configuration logs them: a [`Receiver`][qstash_receiver.Receiver] once, on
    first use.
    """

    text: str
    code: str

    def __str__(self) -> str:
        return self.text
