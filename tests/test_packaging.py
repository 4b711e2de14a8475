"""What `make dist` ships: metadata an index accepts, an sdist without tests, the same bytes twice,
a wheel that installs alone, and its pytest plugin at work in a project outside the repository."""

from __future__ import annotations

import ast
import email
import os
import subprocess
import sys
import tarfile
import time
import venv
import zipfile
from email.message import Message
from pathlib import Path

import pytest
import trove_classifiers

import qstash_receiver

ROOT = Path(__file__).resolve().parents[1]
EPOCH = "1700000000"


def matrix_pythons() -> list[str]:
    """``PYTHONS`` in noxfile.py (read, not imported: nox is not a test dependency)."""
    tree = ast.parse((ROOT / "noxfile.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and [getattr(t, "id", None) for t in node.targets] == [
            "PYTHONS"
        ]:
            return list(ast.literal_eval(node.value))
    raise AssertionError("noxfile.py defines no PYTHONS")


def build(kind: str, out: Path) -> Path:
    """``python -m build --<kind>`` from the checkout (no isolation: the venv's setuptools)."""
    subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", f"--{kind}", "--outdir", str(out), "."],
        cwd=ROOT,
        env={**os.environ, "SOURCE_DATE_EPOCH": EPOCH},
        check=True,
        capture_output=True,
    )
    (artifact,) = out.iterdir()
    return artifact


def fresh_venv(
    env_dir: Path, *install: str, cwd: Path | None = None, env: dict[str, str] | None = None
) -> Path:
    """A new venv at ``env_dir`` with ``pip install -q *install`` done in it; its interpreter."""
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    subprocess.run(
        [python, "-m", "pip", "install", "-q", *install],
        cwd=cwd,
        env=env,
        check=True,
        capture_output=True,
        timeout=900,
    )
    return python


def normalize(sdist: Path) -> bytes:
    subprocess.run(
        [sys.executable, str(ROOT / "tools" / "normalize_sdist.py"), str(sdist)],
        env={**os.environ, "SOURCE_DATE_EPOCH": EPOCH},
        check=True,
    )
    return sdist.read_bytes()


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build("wheel", tmp_path_factory.mktemp("wheel"))


@pytest.fixture(scope="module")
def metadata(wheel: Path) -> Message:
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        return email.message_from_bytes(archive.read(name))


def test_metadata_states_the_license_and_no_dev_extra(metadata: Message, wheel: Path) -> None:
    assert metadata["License-Expression"] == "MIT"
    assert metadata.get_all("License-File") == ["LICENSE"]
    assert metadata["Version"] == qstash_receiver.__version__
    extras = set(metadata.get_all("Provides-Extra") or [])
    assert "dev" not in extras  # development tools are dependency groups, never published
    assert {"lambda", "gcf", "flask", "django", "fastapi", "starlette", "redis"} <= extras
    assert metadata.get_all("Requires-Dist") is not None
    assert not [r for r in metadata.get_all("Requires-Dist") or [] if "extra ==" not in r]
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
    assert "qstash_receiver/py.typed" in names
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    assert not [n for n in names if n.startswith(("tests/", "samples/", "core/", "adapters/"))]


def test_classifiers_are_valid_and_state_what_the_matrix_tests(metadata: Message) -> None:
    classifiers = metadata.get_all("Classifier") or []
    assert [c for c in classifiers if c not in trove_classifiers.classifiers] == []
    versions = [
        c.rsplit(" ", 1)[1] for c in classifiers if c.count("::") == 2 and "Python :: 3." in c
    ]
    assert versions == matrix_pythons()
    assert metadata["Requires-Python"] == f">={matrix_pythons()[0]}"


def test_sdist_leaves_the_tests_out_and_is_reproducible(tmp_path: Path) -> None:
    first = build("sdist", tmp_path / "first")
    time.sleep(1.1)  # the files setuptools writes carry the build time, to the second
    second = build("sdist", tmp_path / "second")
    assert first.read_bytes() != second.read_bytes()  # what normalize_sdist.py is for
    assert normalize(first) == normalize(second)
    with tarfile.open(first) as archive:
        names = [name.split("/", 1)[1] for name in archive.getnames() if "/" in name]
    assert {"LICENSE", "CHANGELOG.md", "README.md", "pyproject.toml", "core/py.typed"} <= set(names)
    assert not [n for n in names if n.startswith(("tests", "samples", "bench", "docs"))]


def test_the_wheel_alone_installs_imports_and_pulls_no_dependency(
    wheel: Path, tmp_path: Path
) -> None:
    # No index and no configuration (no find-links either): a dependency could not be found.
    bare = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    python = fresh_venv(
        tmp_path / "venv", "--no-index", str(wheel), env={**bare, "PIP_CONFIG_FILE": os.devnull}
    )
    version = subprocess.run(
        [python, "-c", "import qstash_receiver; print(qstash_receiver.__version__)"],
        check=True,
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert version.stdout.strip() == qstash_receiver.__version__
    listed = subprocess.run(
        [
            python,
            "-m",
            "pip",
            "list",
            "--format=freeze",
            "--exclude",
            "pip",
            "--exclude",
            "setuptools",
        ],  # what venv itself installs (setuptools only before Python 3.12)
        check=True,
        capture_output=True,
        text=True,
    )
    assert listed.stdout.split() == [f"qstash-receiver=={qstash_receiver.__version__}"]


# A user's project: module-level apps with the adapters' default receivers, tests that use
# both fixtures, and nothing else (no conftest.py, no -p). The shell's QSTASH_DEV=1 must not
# reach the fixtures' tests, and must still be there for the others.
OUTSIDE_PROJECT = {
    "pytest.ini": "[pytest]\naddopts = --strict-markers\nfilterwarnings = error\n",
    "flask_app.py": """
from flask import Flask, jsonify

from qstash_receiver.adapters.flask import current_message, verify_qstash

app = Flask(__name__)


@app.post("/hook")
@verify_qstash
def hook():
    message = current_message()
    return jsonify(id=message.message_id, region=message.key_region, retried=message.retried)
""",
    "fastapi_app.py": """
from typing import Annotated

from fastapi import Depends, FastAPI

from qstash_receiver import VerifiedMessage
from qstash_receiver.adapters.fastapi import install, verified_message

app = FastAPI()
install(app)


@app.post("/hook")
def hook(message: Annotated[VerifiedMessage, Depends(verified_message)]):
    return {"id": message.message_id, "region": message.key_region, "retried": message.retried}
""",
    "test_flask_app.py": """
import os

import pytest

from flask_app import app

BODY = b'{"order_id": 4217}'
URL = "http://localhost/hook"


def send(headers, body=BODY):
    response = app.test_client().post("/hook", data=body, headers=headers)
    return response.status_code, response.get_data(as_text=True)


@pytest.mark.parametrize("region", ["US_EAST_1", "EU_CENTRAL_1"])
def test_genuine_deliveries_from_both_regions(qstash_signer, region):
    headers = qstash_signer.headers(BODY, url=URL, region=region, retried=2)
    response = app.test_client().post("/hook", data=BODY, headers=headers)
    assert response.status_code == 200
    assert response.json == {"id": headers["Upstash-Message-Id"], "region": region, "retried": 2}


def test_the_primary_region_by_default(qstash_env, qstash_signer):
    assert os.environ["QSTASH_REGION"] == qstash_env["QSTASH_REGION"] == "US_EAST_1"
    assert "QSTASH_DEV" not in os.environ
    headers = qstash_signer.headers(BODY, url=URL, message_id="msg_given")
    assert headers["Upstash-Region"] == "US-EAST-1"
    assert send(headers)[0] == 200


def test_wrong_region_and_tampered_deliveries_are_refused(qstash_signer):
    headers = qstash_signer.headers(BODY, url=URL, region="EU_CENTRAL_1")
    assert send(headers, BODY + b" ") == (401, "401 Unauthorized: body_mismatch")
    headers["Upstash-Region"] = "US-EAST-1"
    assert send(headers) == (401, "401 Unauthorized: invalid_signature")


def test_without_the_fixtures_the_environment_is_the_shells():
    assert os.environ["QSTASH_DEV"] == "1"
    assert "QSTASH_REGION" not in os.environ
""",
    "test_fastapi_app.py": """
import os

import pytest
from fastapi.testclient import TestClient

from fastapi_app import app

BODY = b'{"order_id": 4217}'
URL = "http://testserver/hook"


def send(headers, body=BODY):
    response = TestClient(app).post("/hook", content=body, headers=headers)
    return response.status_code, response.text


@pytest.mark.parametrize("region", ["US_EAST_1", "EU_CENTRAL_1"])
def test_genuine_deliveries_from_both_regions(qstash_signer, region):
    headers = qstash_signer.headers(BODY, url=URL, region=region, retried=2)
    response = TestClient(app).post("/hook", content=BODY, headers=headers)
    assert response.status_code == 200
    assert response.json() == {"id": headers["Upstash-Message-Id"], "region": region, "retried": 2}


def test_the_primary_region_by_default(qstash_env, qstash_signer):
    assert os.environ["QSTASH_REGION"] == qstash_env["QSTASH_REGION"] == "US_EAST_1"
    assert "QSTASH_DEV" not in os.environ
    headers = qstash_signer.headers(BODY, url=URL, message_id="msg_given")
    assert send(headers)[0] == 200


def test_wrong_region_and_tampered_deliveries_are_refused(qstash_signer):
    headers = qstash_signer.headers(BODY, url=URL, region="EU_CENTRAL_1")
    assert send(headers, BODY + b" ") == (401, "401 Unauthorized: body_mismatch")
    headers["Upstash-Region"] = "US-EAST-1"
    assert send(headers) == (401, "401 Unauthorized: invalid_signature")


def test_without_the_fixtures_the_environment_is_the_shells():
    assert os.environ["QSTASH_DEV"] == "1"
    assert "QSTASH_REGION" not in os.environ
""",
}


def test_a_project_outside_the_repository_uses_the_fixtures_from_the_wheel_alone(
    wheel: Path, tmp_path: Path
) -> None:
    # The frameworks and the test tools from the index; starlette's test client uses httpx2
    # (with httpx it warns, and the project turns warnings into errors).
    python = fresh_venv(tmp_path / "venv", f"{wheel}[flask,fastapi]", "pytest", "httpx2")
    project = tmp_path / "project"
    project.mkdir()
    for name, text in OUTSIDE_PROJECT.items():
        (project / name).write_text(text.lstrip())
    # Nothing from this session: no PYTEST_* options, no QStash settings, no source checkout
    # on the path; a developer's QSTASH_DEV=1, which the fixtures must set aside.
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PYTEST_", "PYTHON")) and "QSTASH" not in k
    }
    done = subprocess.run(
        [python, "-m", "pytest", "-v", "-p", "no:cacheprovider"],
        cwd=project,
        env={**env, "QSTASH_DEV": "1"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert f"qstash-receiver-{qstash_receiver.__version__}" in done.stdout  # plugins: line
    assert " 10 passed in " in done.stdout.splitlines()[-1]
    assert "warning" not in done.stdout.lower()
    for framework in ("flask", "fastapi"):
        assert f"test_{framework}_app.py::test_the_primary_region_by_default PASSED" in (
            done.stdout
        )
