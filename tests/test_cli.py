"""The console script: doctor, sign and verify (output and exit status). dev: test_devserver."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import pytest

from qstash_receiver import Receiver, __version__
from qstash_receiver.cli import main
from qstash_receiver.names import DEV_CURRENT_SIGNING_KEY, DEV_NEXT_SIGNING_KEY, DEV_TOKEN
from qstash_receiver.testing import DEMO_ENV, DEMO_KEYS, sign, signed_headers

BODY = b'{"order": 42}'
URL = "https://example.com/api/qstash"
HINT = "qstash-receiver doctor"
DEFAULT_KEYS = ("sig_defaultCurrentKey0000000000", "sig_defaultNextKey000000000000000")
#: Every secret value any test environment holds: none may ever be printed by doctor/verify.
SECRETS = [
    *(value for name, value in DEMO_ENV.items() if "KEY" in name or "TOKEN" in name),
    *DEFAULT_KEYS,
    DEV_CURRENT_SIGNING_KEY,
    DEV_NEXT_SIGNING_KEY,
    DEV_TOKEN,
]


def env_file(tmp_path: Path, env: Mapping[str, str]) -> str:
    path = tmp_path / ".env"
    path.write_text("".join(f'{name}="{value}"\n' for name, value in env.items()))
    return str(path)


def run(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, env: Mapping[str, str], *argv: str
) -> tuple[int, str]:
    """Run the CLI with ``env`` as its only environment; return status and all output."""
    status = main([*argv, "--env-file", env_file(tmp_path, env), "--env-file-only"])
    captured = capsys.readouterr()
    output = captured.out + captured.err
    leaked = [secret for secret in SECRETS if secret in output]
    assert not leaked, "a key or token was printed"
    return status, output


def test_doctor_migration_mode(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    status, out = run(capsys, tmp_path, DEMO_ENV, "doctor")
    assert status == 0
    assert "migration (primary region US_EAST_1)" in out
    assert "US_EAST_1_QSTASH_URL / US_EAST_1_QSTASH_TOKEN" in out
    assert "demo****(20 chars)" in out  # the token: short prefix and length only
    assert out.count("current sig_****(32 chars), next sig_****(34 chars)") == 2
    lines = out.splitlines()
    assert any("Upstash-Region: EU-CENTRAL-1" in ln and "EU_CENTRAL_1 keys" in ln for ln in lines)
    assert any("Upstash-Region: US-EAST-1" in ln and "US_EAST_1 keys" in ln for ln in lines)
    assert any("no Upstash-Region header" in ln and "answered 401" in ln for ln in lines)
    assert "Warnings (0)" in out
    assert "Result: OK" in out


def test_doctor_shows_the_fallback_to_default_keys(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    env = {name: value for name, value in DEMO_ENV.items() if not name.startswith("EU_CENTRAL_1")}
    env["QSTASH_CURRENT_SIGNING_KEY"], env["QSTASH_NEXT_SIGNING_KEY"] = DEFAULT_KEYS
    status, out = run(capsys, tmp_path, env, "doctor")
    assert status == 0
    eu_line = next(ln for ln in out.splitlines() if "Upstash-Region: EU-CENTRAL-1" in ln)
    assert "default keys" in eu_line
    assert "[fallback]" in eu_line
    assert "migration mode: no EU_CENTRAL_1 signing keys" in out


def test_doctor_says_region_keys_are_ignored_without_qstash_region(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    env = {name: value for name, value in DEMO_ENV.items() if name != "QSTASH_REGION"}
    status, out = run(capsys, tmp_path, env, "doctor")
    assert status == 1  # the region keys are all it has, and they are ignored
    assert "mode                           single-region" in out
    assert out.count("set (ignored: no QSTASH_REGION)") == 2
    assert "region-prefixed keys are ignored outside migration mode" in out
    assert "Result: NOT OK" in out


def test_doctor_without_keys_fails(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    status, out = run(capsys, tmp_path, {}, "doctor")
    assert status == 1
    assert "no signing keys are configured" in out
    assert "publishing                     not configured" in out


RECEIVE_ONLY = {
    "QSTASH_CURRENT_SIGNING_KEY": DEFAULT_KEYS[0],
    "QSTASH_NEXT_SIGNING_KEY": DEFAULT_KEYS[1],
}
#: Migration mode with both regions' signing keys, and nothing to publish with.
RECEIVE_ONLY_MIGRATION = {
    name: value for name, value in DEMO_ENV.items() if not name.endswith(("_URL", "_TOKEN"))
}
TOKEN_MISSING = "QSTASH_TOKEN is not set: publishing will be rejected by QStash"


def test_doctor_does_not_warn_a_receive_only_app_about_publishing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    for env in (RECEIVE_ONLY, RECEIVE_ONLY_MIGRATION):
        status, out = run(capsys, tmp_path, env, "doctor")
        assert status == 0
        assert "publishing                     not configured: receive only" in out
        assert "Warnings (0)" in out
        assert "publish" not in out.split("Warnings (0)")[1]
        assert "token   " not in out  # no credential lines for what is not configured
        assert out.rstrip().endswith("Result: OK")


@pytest.mark.parametrize(
    ("env", "argv", "warnings"),
    [
        # Asked for: the app is about to publish.
        (RECEIVE_ONLY, ["--publishing"], [TOKEN_MISSING]),
        # Configured in part: a URL without its token.
        (
            {**RECEIVE_ONLY, "QSTASH_URL": "https://qstash-us-east-1.upstash.io"},
            [],
            [TOKEN_MISSING],
        ),
        # Migration mode, the primary region's URL without its token.
        (
            {**RECEIVE_ONLY_MIGRATION, "US_EAST_1_QSTASH_URL": "http://127.0.0.1:8181"},
            [],
            ["US_EAST_1_QSTASH_URL and US_EAST_1_QSTASH_TOKEN are not both set", TOKEN_MISSING],
        ),
    ],
    ids=["flag", "url-only", "region-url-only"],
)
def test_doctor_checks_publishing_when_configured_in_part_or_asked(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    env: dict[str, str],
    argv: list[str],
    warnings: list[str],
) -> None:
    status, out = run(capsys, tmp_path, env, "doctor", *argv)
    assert status == 0  # publishing never decides the result: receiving does
    assert "token                          not set" in out
    assert f"Warnings ({len(warnings)})" in out
    for text in warnings:
        assert text in out
    assert "not configured" not in out


def test_doctor_dev_mode_masks_the_public_keys_too(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    status, out = run(capsys, tmp_path, {"QSTASH_DEV": "1"}, "doctor")
    assert status == 0
    assert "mode                           dev" in out
    assert "http://127.0.0.1:8080" in out


def test_doctor_invalid_configuration_exits_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    status, out = run(capsys, tmp_path, {"QSTASH_DEV": "1", "K_SERVICE": "svc"}, "doctor")
    assert status == 2
    assert "error: QStash dev mode is refused on Cloud Run / Cloud Functions" in out


def test_missing_env_file_exits_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["doctor", "--env-file", str(tmp_path / "absent.env")]) == 2
    assert "env file not found" in capsys.readouterr().err
    assert main(["doctor", "--env-file-only"]) == 2


def test_env_file_overrides_the_process_environment(tmp_path: Path) -> None:
    process_env = {**os.environ, "QSTASH_REGION": "EU_CENTRAL_1", "QSTASH_TOKEN": "x" * 20}
    process_env |= {name: value for name, value in DEMO_ENV.items() if "SIGNING_KEY" in name}
    path = env_file(tmp_path, {"QSTASH_REGION": "US_EAST_1"})
    result = subprocess.run(
        [sys.executable, "-m", "qstash_receiver.cli", "doctor", "--env-file", path],
        env=process_env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "migration (primary region US_EAST_1)" in result.stdout  # from the file
    assert "xxxx****(20 chars)" in result.stdout  # QSTASH_TOKEN from the process


def test_sign_with_an_explicit_key(capsys: pytest.CaptureFixture[str]) -> None:
    key, nxt = DEFAULT_KEYS
    assert main(["sign", "--data", BODY.decode(), "--key", key, "--url", URL]) == 0
    signature = capsys.readouterr().out.strip()
    message = Receiver(key, nxt).verify(signature=signature, body=BODY, url=URL)
    assert message.key_used == "current"
    assert message.claims["exp"] - message.claims["iat"] == 300


@pytest.mark.parametrize(("region", "extra", "used"), [
    ("eu-central-1", [], "current"), ("US_EAST_1", ["--next"], "next"),
])  # fmt: skip
def test_sign_as_a_region_from_the_config(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, region: str, extra: list[str], used: str
) -> None:
    body_file = tmp_path / "body.bin"
    body_file.write_bytes(b"\x00\xff binary")
    path = env_file(tmp_path, DEMO_ENV)
    argv = ["sign", str(body_file), "--region", region, "--lifetime", "60", *extra]
    assert main([*argv, "--env-file", path, "--env-file-only"]) == 0
    signature = capsys.readouterr().out.strip()
    normalized = region.replace("-", "_").upper()
    keys = DEMO_KEYS[normalized]  # type: ignore[index]
    message = Receiver(*keys).verify(signature=signature, body=b"\x00\xff binary")
    assert message.key_used == used
    assert message.claims["exp"] - message.claims["iat"] == 60


def test_sign_curl_prints_a_ready_command(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = env_file(tmp_path, DEMO_ENV)
    argv = ["sign", "--data", "hi", "--region", "US_EAST_1", "--url", URL, "--curl"]
    assert main([*argv, "--env-file", path, "--env-file-only"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"curl -sS -X POST {URL} \\\n")
    assert "  -H 'Upstash-Region: US-EAST-1' \\\n" in out
    assert "  -H 'Upstash-Signature: eyJ" in out
    assert out.rstrip().endswith("--data-binary hi")


def test_sign_refuses_bad_usage(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["sign", "--data", "x", "--key", "k", "--curl"]) == 2
    assert "--curl needs --url" in capsys.readouterr().err
    status, out = run(capsys, tmp_path, {}, "sign", "--data", "x")
    assert status == 2
    assert "no signing keys configured" in out
    assert main(["sign", "--region", "mars-1", "--data", "x"]) == 2
    assert "not a QStash region" in capsys.readouterr().err


def test_sign_without_keys_names_the_key_option(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    for env, says in (
        ({}, "no signing keys configured"),  # nothing
        (RECEIVE_ONLY_MIGRATION, "--region (EU_CENTRAL_1 or US_EAST_1)"),  # no --region
    ):
        status, out = run(capsys, tmp_path, env, "sign", "--data", "x")
        assert status == 2
        assert says in out
        assert "--key KEY" in out


@pytest.mark.parametrize("command", ["sign", "verify", "dev"])
def test_an_unknown_region_lists_the_regions_readably(
    capsys: pytest.CaptureFixture[str], command: str
) -> None:
    option = "--primary" if command == "dev" else "--region"
    assert main([command, option, "mars-1"]) == 2
    err = capsys.readouterr().err
    assert "not a QStash region: 'mars-1' (use EU_CENTRAL_1 or US_EAST_1)" in err
    assert "('" not in err  # no Python tuple


def on_a_terminal(*argv: str) -> subprocess.CompletedProcess[str]:
    """Run the console script with a terminal on stdin that nobody types into."""
    pty = pytest.importorskip("pty")
    script = Path(sys.executable).with_name("qstash-receiver")
    controller, terminal = pty.openpty()
    try:
        return subprocess.run(
            [str(script), *argv], stdin=terminal, capture_output=True, text=True,
            timeout=30, check=False,
        )  # fmt: skip
    finally:
        os.close(controller)
        os.close(terminal)


@pytest.mark.parametrize(
    "argv",
    [
        ["sign", "--key", DEFAULT_KEYS[0]],
        ["verify", "--key", DEFAULT_KEYS[0], "--next-key", DEFAULT_KEYS[1], "--signature", "x"],
    ],
    ids=["sign", "verify"],
)
def test_no_body_and_a_terminal_on_stdin_is_refused_not_waited_for(argv: list[str]) -> None:
    result = on_a_terminal(*argv)  # before: waited for the terminal until the timeout
    assert result.returncode == 2
    assert (
        "error: no body given: pass a body file, --data TEXT, or pipe the body in" in result.stderr
    )
    assert not result.stdout


class Terminal(io.TextIOWrapper):
    """A stdin that says it is a terminal and holds ``typed``."""

    def __init__(self, typed: bytes) -> None:
        super().__init__(io.BytesIO(typed))

    def isatty(self) -> bool:
        return True


def test_a_dash_reads_the_terminal_with_a_hint(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdin", Terminal(BODY))
    key, nxt = DEFAULT_KEYS
    assert main(["sign", "-", "--key", key, "--url", URL]) == 0
    captured = capsys.readouterr()
    assert "end it with Ctrl-D" in captured.err
    assert Receiver(key, nxt).verify(signature=captured.out.strip(), body=BODY, url=URL)


def test_sign_reads_stdin_through_the_console_script() -> None:
    script = Path(sys.executable).with_name("qstash-receiver")
    key, nxt = DEFAULT_KEYS
    result = subprocess.run(
        [str(script), "sign", "--key", key, "--url", URL], input=BODY, capture_output=True,
        timeout=60, check=True,
    )  # fmt: skip
    signature = result.stdout.decode().strip()
    assert Receiver(key, nxt).verify(signature=signature, body=BODY, url=URL)


def verify(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, signature: str, body: bytes, *argv: str
) -> tuple[int, str]:
    body_file = tmp_path / "body"
    body_file.write_bytes(body)
    status, out = run(
        capsys, tmp_path, DEMO_ENV, "verify", str(body_file), "--signature", signature, *argv
    )
    assert signature not in out
    return status, out


def us_signature(now: float | None = None) -> str:
    return sign(BODY, key=DEMO_KEYS["US_EAST_1"][0], url=URL, now=now)


def test_verify_ok(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    status, out = verify(capsys, tmp_path, us_signature(), BODY, "--region", "US-EAST-1")
    assert status == 0
    assert "OK: verified with US_EAST_1 keys (current key)" in out
    assert f"signed url: {URL}" in out


@pytest.mark.parametrize(
    ("signature", "body", "argv", "reason"),
    [
        (us_signature(), b"{}", ["--region", "US_EAST_1"], "body_mismatch"),
        (us_signature(), BODY, ["--region", "EU_CENTRAL_1"], "invalid_signature"),
        (us_signature(now=time.time() - 600), BODY, ["--region", "US_EAST_1"], "expired"),
        (us_signature(), BODY, ["--region", "US_EAST_1", "--url", URL + "/x"], "url_mismatch"),
        ("not.a.jwt", BODY, ["--region", "US_EAST_1"], "malformed_signature"),
    ],
)
def test_verify_rejections_name_the_reason(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    signature: str,
    body: bytes,
    argv: list[str],
    reason: str,
) -> None:
    status, out = verify(capsys, tmp_path, signature, body, *argv)
    assert status == 1
    assert f"REJECTED 401 {reason}: " in out


def test_verify_tolerance_accepts_a_slightly_expired_signature(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    signature = us_signature(now=time.time() - 310)
    argv = ("--region", "US_EAST_1")
    assert verify(capsys, tmp_path, signature, BODY, *argv)[0] == 1
    assert verify(capsys, tmp_path, signature, BODY, *argv, "--tolerance", "60")[0] == 0


def test_verify_refuses_a_nan_tolerance(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    signature = us_signature(now=time.time() - 3600)  # long expired
    argv = ("--region", "US_EAST_1", "--tolerance", "nan")
    status, out = verify(capsys, tmp_path, signature, BODY, *argv)
    assert status == 2
    assert "error: --tolerance must" in out
    assert "OK" not in out


def test_verify_a_captured_headers_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    headers = signed_headers(BODY, key=DEMO_KEYS["EU_CENTRAL_1"][1], url=URL, region="EU_CENTRAL_1")
    capture = tmp_path / "headers.txt"
    lines = ["POST /api/qstash HTTP/1.1", *(f"{k}: {v}" for k, v in headers.items())]
    capture.write_text("\n".join(lines) + "\n")
    (tmp_path / "body").write_bytes(BODY)
    argv = ("verify", str(tmp_path / "body"), "--headers-file", str(capture))
    status, out = run(capsys, tmp_path, DEMO_ENV, *argv)
    assert status == 0
    assert "OK: verified with EU_CENTRAL_1 keys (next key)" in out
    assert f"message id: {headers['Upstash-Message-Id']}" in out
    assert headers["Upstash-Signature"] not in out


def test_verify_sees_a_repeated_signature_header_as_the_endpoint_does(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    headers = signed_headers(BODY, key=DEMO_KEYS["EU_CENTRAL_1"][0], url=URL, region="EU_CENTRAL_1")
    capture = tmp_path / "headers.txt"
    lines = [
        *(f"{k}: {v}" for k, v in headers.items()),
        f"Upstash-Signature: {sign(b'x', key='k')}",
    ]
    capture.write_text("\n".join(lines) + "\n")
    (tmp_path / "body").write_bytes(BODY)
    argv = ("verify", str(tmp_path / "body"), "--headers-file", str(capture))
    status, out = run(capsys, tmp_path, DEMO_ENV, *argv)
    assert status == 1
    assert "REJECTED 401 duplicate_signature" in out


def test_verify_without_usable_keys_exits_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    body_file = tmp_path / "body"
    body_file.write_bytes(BODY)
    status, out = run(capsys, tmp_path, {}, "verify", str(body_file), "--signature", "a.b.c")
    assert status == 2
    assert "REJECTED 500 configuration_error: no signing keys configured" in out
    assert HINT in out  # keys are what is missing


def test_verify_with_explicit_keys_and_bad_usage(capsys: pytest.CaptureFixture[str]) -> None:
    key, nxt = DEMO_KEYS["US_EAST_1"]
    argv = ["verify", "--data", BODY.decode(), "--signature", us_signature()]
    assert main([*argv, "--key", key, "--next-key", nxt]) == 0
    assert "OK: verified with explicit keys" in capsys.readouterr().out
    assert main([*argv, "--key", key]) == 2
    assert "both --key and --next-key" in capsys.readouterr().err
    assert main(["verify", "--data", "x"]) == 2
    assert "give --signature" in capsys.readouterr().err


def test_help_and_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    assert "doctor" in capsys.readouterr().out
    assert main(["frobnicate"]) == 2
    assert "invalid choice" in capsys.readouterr().err


def test_version_prints_the_package_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"qstash-receiver {__version__}"


@pytest.mark.parametrize(
    ("argv", "content_type"),
    [
        (["--data", '{"order": 42}'], "application/json"),
        (["--data", "hi"], "application/octet-stream"),
        (["--data", "hi", "--content-type", "text/plain"], "text/plain"),
    ],
)
def test_sign_curl_sends_a_content_type(
    capsys: pytest.CaptureFixture[str], argv: list[str], content_type: str
) -> None:
    key = DEFAULT_KEYS[0]
    assert main(["sign", *argv, "--key", key, "--url", URL, "--curl"]) == 0
    out = capsys.readouterr().out
    assert f"  -H 'Content-Type: {content_type}' \\\n" in out


def curl_replay(command: str) -> tuple[bytes, str]:
    """The bytes the printed command's left side pipes into curl, and the curl part."""
    feed, pipe, curl = command.partition(" |\n")
    assert pipe, command
    fed = subprocess.run(["sh", "-c", feed], capture_output=True, check=True, timeout=30).stdout
    return fed, curl


@pytest.mark.parametrize(
    "body",
    [
        b'{"order": 42}\n',
        b"\x00\xff\xfe binary\r\n\n",
        b'it\'s 100% \\n literal, $HOME `id` "q"\n\n',
        b"",
    ],
)
def test_sign_curl_from_stdin_replays_the_exact_bytes(body: bytes) -> None:
    script = Path(sys.executable).with_name("qstash-receiver")
    key, nxt = DEFAULT_KEYS
    result = subprocess.run(
        [str(script), "sign", "--key", key, "--url", URL, "--curl"], input=body,
        capture_output=True, timeout=60, check=True,
    )  # fmt: skip
    fed, curl = curl_replay(result.stdout.decode())
    assert fed == body
    assert curl.startswith(f"curl -sS -X POST {URL} \\\n")
    assert curl.rstrip().endswith("--data-binary @-")
    signature = next(
        line.split("Upstash-Signature: ", 1)[1].rstrip("' \\")
        for line in curl.splitlines()
        if "Upstash-Signature: " in line
    )
    assert Receiver(key, nxt).verify(signature=signature, body=fed, url=URL)


def test_sign_curl_data_starting_with_an_at_sign_is_not_read_as_a_file(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["sign", "--data", "@/etc/passwd", "--key", "k", "--url", URL, "--curl"]) == 0
    fed, curl = curl_replay(capsys.readouterr().out)
    assert fed == b"@/etc/passwd"
    assert curl.rstrip().endswith("--data-binary @-")


def run_without(module: str, *argv: str) -> subprocess.CompletedProcess[str]:
    """The console script in a process where ``module`` cannot be imported."""
    code = (
        f"import sys; sys.modules[{module!r}] = None\n"
        "from qstash_receiver.cli import main\n"
        "raise SystemExit(main(sys.argv[1:]))\n"
    )
    return subprocess.run(
        [sys.executable, "-c", code, *argv], capture_output=True, text=True, timeout=60,
        check=False,
    )  # fmt: skip


def test_dev_without_httpx_names_the_extra() -> None:
    result = run_without("httpx", "dev", "--eu-port", "0", "--us-port", "0")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert 'pip install "qstash-receiver[cli]"' in result.stderr
    assert "httpx" in result.stderr


def test_env_file_without_python_dotenv_names_the_extra(tmp_path: Path) -> None:
    path = env_file(tmp_path, DEMO_ENV)
    result = run_without("dotenv", "doctor", "--env-file", path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert 'python-dotenv, which is not installed: pip install "qstash-receiver[cli]"' in (
        result.stderr
    )


@pytest.mark.parametrize(
    ("signature", "body", "region", "hint"),
    [
        (us_signature(), BODY, "EU_CENTRAL_1", True),  # invalid_signature: maybe the keys
        (us_signature(), b"{}", "US_EAST_1", False),  # body_mismatch: not the configuration
        (us_signature(now=time.time() - 600), BODY, "US_EAST_1", False),  # expired
        ("not.a.jwt", BODY, "US_EAST_1", False),  # malformed_signature
    ],
)
def test_verify_hints_at_doctor_only_when_the_configuration_may_be_why(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    signature: str,
    body: bytes,
    region: str,
    hint: bool,
) -> None:
    status, out = verify(capsys, tmp_path, signature, body, "--region", region)
    assert status == 1
    assert (HINT in out) is hint


def test_doctor_says_an_invalid_qstash_region_is_invalid(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    env = {**DEMO_ENV, "QSTASH_REGION": "mars-1"}
    status, out = run(capsys, tmp_path, env, "doctor")
    assert status == 1  # only region keys, and migration mode is off
    assert "QSTASH_REGION                  'mars-1' is invalid" in out
    assert out.count("set (ignored: QSTASH_REGION is invalid)") == 2
    assert "no QSTASH_REGION" not in out


def test_doctor_says_the_signed_url_check_is_off_by_default(
    capsys: pytest.CaptureFixture[str],
) -> None:
    main(["doctor"])
    out = capsys.readouterr().out
    assert "signed URL (sub) check" in out
    assert "off unless the endpoint passes url=" in out
