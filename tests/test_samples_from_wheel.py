"""The new stacks' samples installed as their README says: each sample's ``requirements.txt``
(the wheel through its ``--find-links ../../dist`` line, the frameworks from the index) into one
fresh venv, beside the test tools only (pytest, hypothesis; httpx and httpx2 for the test
clients). Then this suite's tests of those samples run on that venv's interpreter: what they
import is the wheel's package and what the samples declare, never this checkout's editable
install or the development toolchain."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from test_packaging import build, fresh_venv

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ("wsgi_app", "asgi_app", "vercel", "aiohttp_app", "azure_functions", "workflow_app")
#: This suite's tests of those samples (each runs the sample itself: its real server, or its
#: framework's own request objects and serve path).
SAMPLE_TESTS = (
    "tests/test_neutral_samples.py::test_sample_in_migration_mode",
    "tests/test_aiohttp_adapter.py::test_the_sample_app_over_a_real_server",
    "tests/test_azure_functions_adapter.py::test_the_sample_function_app_indexes_and_answers",
    "tests/test_workflow_fastapi.py::test_the_fastapi_sample_runs_a_genuine_workflow",
    "tests/test_workflow_receiver.py::"
    "test_the_flask_sample_runs_a_genuine_workflow_and_refuses_a_forged_one",
)


def test_the_new_samples_install_from_the_wheel_and_pass_their_tests(tmp_path: Path) -> None:
    # The layout the requirements files expect: samples/<name>/requirements.txt and dist/.
    wheel = build("wheel", tmp_path / "dist")
    for name in SAMPLES:
        (tmp_path / "samples" / name).mkdir(parents=True)
        shutil.copy(ROOT / "samples" / name / "requirements.txt", tmp_path / "samples" / name)
    env_dir = tmp_path / "venv"
    requirements = [f"--requirement=samples/{name}/requirements.txt" for name in SAMPLES]
    tools = ("pytest", "hypothesis", "httpx", "httpx2")
    python = fresh_venv(env_dir, *requirements, *tools, cwd=tmp_path)
    shown = subprocess.run(
        [python, "-c", "import qstash_receiver as q; print(q.__version__, q.__file__)"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    version, where = shown.stdout.split()
    assert where.startswith(str(env_dir)), where  # installed, not this checkout
    assert wheel.name.startswith(f"qstash_receiver-{version}-"), (wheel.name, version)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "PYTHON"))}
    done = subprocess.run(
        [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", *SAMPLE_TESTS],
        cwd=ROOT,
        env={**env, "VIRTUAL_ENV": str(env_dir), "PATH": f"{env_dir / 'bin'}:{env['PATH']}"},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    summary = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    print(summary)
    assert "skipped" not in summary, summary  # every sample test ran
    passed = int(summary.split(" passed")[0].split()[-1])
    assert passed >= len(SAMPLE_TESTS), summary
