"""``qstash-receiver verify``: check a captured delivery; print OK or the reason."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from qstash_receiver import names as N
from qstash_receiver.answers import Answer, answer_for
from qstash_receiver.config import load_config
from qstash_receiver.errors import ConfigError, InvalidSignatureError, QStashError, SignatureError
from qstash_receiver.headers import Headers
from qstash_receiver.message import VerifiedMessage
from qstash_receiver.token import MAX_CLOCK_TOLERANCE, validate_tolerance
from qstash_receiver.verify import Receiver

from ._common import CliError, add_body_options, add_env_options, read_body, read_env, region_arg

__all__ = ["register", "run"]

# The one 401 a configuration can cause (the wrong keys for this region); for the others
# (body, expiry, URL, malformed token) the keys are not the question. A 500 always can.
_CONFIG_REASONS = frozenset({InvalidSignatureError.reason})
_HINT = "  hint: `qstash-receiver doctor` shows which keys each region is verified with"


def register(commands: Any) -> None:
    """Add the ``verify`` subcommand."""
    parser: argparse.ArgumentParser = commands.add_parser(
        "verify",
        help="check a captured delivery (signature + body)",
        description="Verify a delivery with the keys of the configuration (environment, "
        "--env-file) or --key/--next-key. Exit status 0 verified, 1 rejected, 2 configuration.",
    )
    add_body_options(parser, "the raw body file")
    parser.add_argument("--signature", help="the Upstash-Signature header value")
    parser.add_argument(
        "--headers-file",
        help="captured request headers, one 'Name: value' per line (signature, region, ...)",
    )
    parser.add_argument("--region", type=region_arg, help="the Upstash-Region of the delivery")
    parser.add_argument("--url", help="require this signed destination URL (sub)")
    parser.add_argument("--tolerance", type=float, default=0, help="clock skew in seconds (0)")
    parser.add_argument("--key", help="current signing key (instead of the configuration)")
    parser.add_argument("--next-key", help="next signing key (with --key)")
    add_env_options(parser)
    parser.set_defaults(run=run)


def _headers(args: argparse.Namespace) -> Headers:
    # (name, value) pairs, so a repeated header is seen as the endpoint would see it.
    pairs: list[tuple[str, str]] = []
    if args.headers_file:
        try:
            lines = Path(args.headers_file).read_text("utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as err:
            raise CliError(f"cannot read {args.headers_file}: {err}") from None
        for line in lines:  # lines without a colon (e.g. "POST /hook HTTP/1.1") are skipped
            name, sep, value = line.partition(":")
            if sep and name.strip() and " " not in name.strip():
                pairs.append((name.strip().lower(), value.strip()))
    for name, given in ((N.SIGNATURE_HEADER, args.signature), (N.REGION_HEADER, args.region)):
        if given:  # an option replaces what the file said
            pairs = [(n, v) for n, v in pairs if n != name] + [(name, given)]
    headers = Headers(pairs)
    if not headers.get(N.SIGNATURE_HEADER):
        raise CliError("give --signature or a --headers-file with Upstash-Signature")
    return headers


def _receiver(args: argparse.Namespace) -> Receiver:
    if (args.key is None) != (args.next_key is None):
        raise CliError("give both --key and --next-key, or neither")
    if args.key is not None:
        return Receiver(
            config=load_config({}, current_signing_key=args.key, next_signing_key=args.next_key)
        )
    return Receiver(config=load_config(read_env(args)))


def _describe(reason: str) -> str:
    pending: list[type[SignatureError]] = [SignatureError]
    while pending:
        cls = pending.pop()
        if cls.reason == reason:
            return cls.message
        pending.extend(cls.__subclasses__())
    return reason


def run(args: argparse.Namespace) -> int:
    """Verify and print the verdict; 0 verified, 1 rejected, 2 configuration problem.

    Raises:
        CliError, ConfigError: bad input or an invalid environment (exit 2).
    """
    try:
        validate_tolerance(args.tolerance)
    except ValueError as error:
        raise CliError(
            f"--tolerance must be a number of seconds from 0 to {MAX_CLOCK_TOLERANCE} (one day), "
            "not NaN or infinite"
        ) from error
    headers = _headers(args)
    receiver = _receiver(args)
    body = read_body(args.file, args.data)
    try:
        result: VerifiedMessage | Answer = receiver.verify_request(
            headers, body, url=args.url, clock_tolerance=args.tolerance
        )
    except QStashError as error:
        result = answer_for(error)
    if isinstance(result, VerifiedMessage):
        which = result.key_region or result.key_source
        print(f"OK: verified with {which} keys ({result.key_used} key)")
        print(f"  signed url: {result.url}")
        print(f"  message id: {result.message_id or '-'}")
        print(f"  body:       {len(result.body)} bytes")
        if receiver.config.migration_mode and result.key_source == "default":
            print("  note: migration mode fell back to QSTASH_CURRENT/NEXT_SIGNING_KEY")
        return 0
    if result.status == 500:
        detail = "the configuration cannot verify this delivery"
        try:
            receiver.config.keys_for(headers.get(N.REGION_HEADER))
        except ConfigError as err:
            detail = str(err)
        print(f"REJECTED {result.status} {result.reason}: {detail}")
        print(_HINT)
        return 2
    print(f"REJECTED {result.status} {result.reason}: {_describe(result.reason)}")
    if result.reason in _CONFIG_REASONS:
        print(_HINT)
    return 1
