"""What `make dist` ships: metadata an index accepts, an sdist without tests, the same bytes twice,
and a wheel that installs alone."""

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
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    # No index and no configuration (no find-links either): a dependency could not be found.
    bare = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    subprocess.run(
        [python, "-m", "pip", "install", "-q", "--no-index", str(wheel)],
        check=True,
        env={**bare, "PIP_CONFIG_FILE": os.devnull},
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
