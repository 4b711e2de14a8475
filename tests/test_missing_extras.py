"""A module whose optional dependency is not installed names the extra to install.

Adapters (issue 12, point 6), publishing (the official SDK) and the CLI's stand-in (httpx).
"""

from __future__ import annotations

import subprocess
import sys

import pytest

# module -> (a distribution it needs, the extra that installs it)
MODULES = {
    "qstash_receiver.adapters.aws_lambda": ("aws_lambda_powertools", "lambda"),
    "qstash_receiver.adapters.gcf": ("flask", "gcf"),
    "qstash_receiver.adapters.flask": ("flask", "flask"),
    "qstash_receiver.adapters.django": ("asgiref", "django"),
    "qstash_receiver.adapters.starlette": ("starlette", "starlette"),
    "qstash_receiver.adapters.fastapi": ("fastapi", "fastapi"),
    "qstash_receiver.publish": ("qstash", "publish"),
    "qstash_receiver.cli.dev.server": ("httpx", "cli"),
    "qstash_receiver.cli.dev.schedules": ("cronsim", "cli"),
    "qstash_receiver.adapters.aiohttp": ("aiohttp", "aiohttp"),
    "qstash_receiver.adapters.azure_functions": ("azure.functions", "azure"),
    "qstash_receiver.adapters.workflow": ("qstash", "workflow"),
}


@pytest.mark.parametrize("module", sorted(MODULES))
def test_a_missing_dependency_names_the_extra(module: str) -> None:
    missing, extra = MODULES[module]
    # None in sys.modules makes `import missing` fail as if it were not installed.
    script = (
        f"import sys; sys.modules[{missing!r}] = None\n"
        "try:\n"
        f"    import {module}\n"
        "except ModuleNotFoundError as error:\n"
        "    print(error)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert f'pip install "qstash-receiver[{extra}]"' in done.stdout
    assert "Traceback" not in done.stderr
