# qstash-receiver developer tasks. `make test` and `make demo` set everything up themselves.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
NODE_DIR := tests/interop
SOURCES := $(shell find core adapters cli -name '*.py' -o -name 'py.typed' 2>/dev/null)
# pip >= 25.1 installs PEP 735 dependency groups (`--group`).
PIP_FLOOR := pip>=25.1
# What `make demo` installs: the package with the extras its samples use, plus the `demo` group.
DEMO_EXTRAS := lambda,gcf,flask,django,fastapi,cli,publish,falcon,litestar,aiohttp,azure,workflow
# Reproducible builds: every timestamp in the wheel and the sdist is the last commit's.
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null)

.PHONY: all install demo-install node redis lint typecheck template-lint docs docs-serve pytest test \
	matrix demo bench dist gcf-source azure-source clean

all: test

# Third-party dependencies: reinstalled only when pyproject.toml changes. The package with every
# extra, and the `dev` dependency group (test, lint, typecheck, template, docs, release, matrix).
$(VENV)/.deps: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade '$(PIP_FLOOR)'
	$(BIN)/python -m pip install -q --config-settings editable_mode=strict -e '.[all]' --group dev
	touch $@

# A strict editable install lays out a real qstash_receiver package tree (for mypy); it
# links files, so it is refreshed whenever a module is added or removed.
$(VENV)/.linked: $(VENV)/.deps $(SOURCES)
	$(BIN)/python -m pip install -q --no-deps --config-settings editable_mode=strict -e .
	touch $@

install: $(VENV)/.linked

# Only what the demo runs (not the development toolchain); nothing if `make install` already
# installed everything.
$(VENV)/.demo-deps: pyproject.toml
	@if [ -f $(VENV)/.deps ] && [ $(VENV)/.deps -nt pyproject.toml ]; then \
		echo "make demo: $(VENV) already holds the development environment, which has all the demo needs"; \
	else \
		echo "make demo: creating $(VENV) with qstash-receiver[$(DEMO_EXTRAS)] plus gunicorn and uvicorn (once; about a minute)"; \
		$(PYTHON) -m venv $(VENV) && \
		$(BIN)/python -m pip install -q --upgrade '$(PIP_FLOOR)' && \
		$(BIN)/python -m pip install --progress-bar off -e '.[$(DEMO_EXTRAS)]' --group demo || exit 1; \
		echo "make demo: installed"; \
	fi
	@touch $@

demo-install: $(VENV)/.demo-deps

$(NODE_DIR)/node_modules/.installed: $(NODE_DIR)/package.json $(NODE_DIR)/package-lock.json
	cd $(NODE_DIR) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

node: $(NODE_DIR)/node_modules/.installed

# A real Redis server for the duplicate-guard tests: Debian's package when none is on PATH.
# The tests start their own servers on free loopback ports (never a system service);
# REDIS_SERVER=/path/to/redis-server points them at another binary.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
redis:
	@command -v redis-server >/dev/null 2>&1 || [ -n "$$REDIS_SERVER" ] || { \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends redis-server; }

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy -p qstash_receiver
	# The tests use the demo's subprocess helpers (samples/demo/qstash_demo/services.py); the
	# Django tests get their own run, as their conftest.py and tests/conftest.py share a name.
	MYPYPATH=samples/demo $(BIN)/mypy tests bench tools noxfile.py --exclude tests/django_adapter/
	MYPYPATH=samples/demo:tests $(BIN)/mypy tests/django_adapter
	# One run per sample: each is its own deployable root with its own module names.
	for sample in samples/*/; do $(BIN)/mypy "$$sample" || exit 1; done

pytest: install node redis
	$(BIN)/pytest -q

# The SAM template; both linters run offline and need no AWS credentials or region.
template-lint: install
	$(BIN)/cfn-lint template.yaml
	SAM_CLI_TELEMETRY=0 $(BIN)/sam validate --lint --template-file template.yaml

# The documentation site needs the `docs` group and the package itself (mkdocstrings reads its
# source through the strict editable install's package tree), not the development toolchain;
# nothing to install when `make install` already did (its `dev` group includes `docs`).
$(VENV)/.docs-deps: pyproject.toml
	@if [ -f $(VENV)/.deps ] && [ $(VENV)/.deps -nt pyproject.toml ]; then :; else \
		echo "make docs: installing the docs group into $(VENV) (not the development toolchain)"; \
		$(PYTHON) -m venv $(VENV) && \
		$(BIN)/python -m pip install -q --upgrade '$(PIP_FLOOR)' && \
		$(BIN)/python -m pip install -q --group docs || exit 1; \
	fi
	@touch $@

# The package tree, linked again when a module is added; `make install`'s link serves when it
# is newer than every source.
$(VENV)/.docs-linked: $(VENV)/.docs-deps $(SOURCES)
	@if [ -f $(VENV)/.linked ] && [ -z "$$(find $(SOURCES) -newer $(VENV)/.linked | head -n 1)" ]; \
	then :; else \
		$(BIN)/python -m pip install -q --no-deps --config-settings editable_mode=strict -e . \
		|| exit 1; \
	fi
	@touch $@

# The documentation site (MkDocs, Material, mkdocstrings), offline; warnings are errors.
docs: $(VENV)/.docs-linked
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site

# The site served with live reload on http://127.0.0.1:$(DOCS_PORT)/ (loopback only). Read the
# site this way: opened from disk, its directory-style links and its search do not work.
DOCS_PORT ?= 8000
docs-serve: $(VENV)/.docs-linked
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs serve --dev-addr 127.0.0.1:$(DOCS_PORT)

test: lint typecheck template-lint docs pytest

# The version matrix (noxfile.py): each Python, and each framework at its floor and newest.
matrix: install node redis
	$(BIN)/nox --no-color --report .nox/report.json

# The demo lives beside the samples, outside the wheel.
demo: demo-install
	$(BIN)/python samples/demo/run_demo.py

bench: install redis
	$(BIN)/python bench/verify_bench.py
	$(BIN)/python bench/guard_bench.py

# Wheel and sdist into dist/, built in isolation from the committed sources (a clean checkout
# gives the same bytes every time), then checked as an index would (`twine check --strict`).
$(VENV)/.release: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade '$(PIP_FLOOR)'
	$(BIN)/python -m pip install -q --group release
	touch $@

dist: $(VENV)/.release
	rm -rf dist
	SOURCE_DATE_EPOCH=$(SOURCE_DATE_EPOCH) $(BIN)/python -m build --outdir dist .
	SOURCE_DATE_EPOCH=$(SOURCE_DATE_EPOCH) $(BIN)/python tools/normalize_sdist.py dist/*.tar.gz
	$(BIN)/twine check --strict dist/*
	@cd dist && sha256sum *

# A Cloud Functions source folder that installs the package from its own copy of the wheel
# (deploy it with `gcloud functions deploy ... --source=build/gcf`).
gcf-source: dist
	rm -rf build/gcf && mkdir -p build/gcf
	cp samples/gcf/main.py dist/*.whl build/gcf/
	sed 's|^--find-links ../../dist$$|--find-links .|' samples/gcf/requirements.txt > build/gcf/requirements.txt
	@echo "build/gcf: main.py, requirements.txt and the wheel; deploy with --source=build/gcf"

# An Azure Functions app folder that installs the package from its own copy of the wheel
# (publish it with `cd build/azure && func azure functionapp publish <APP> --python`).
azure-source: dist
	rm -rf build/azure && mkdir -p build/azure
	cp samples/azure_functions/function_app.py samples/azure_functions/host.json \
		samples/azure_functions/.funcignore dist/*.whl build/azure/
	sed 's|^--find-links ../../dist$$|--find-links .|' samples/azure_functions/requirements.txt > build/azure/requirements.txt
	@echo "build/azure: function_app.py, host.json, requirements.txt and the wheel; publish it with func"

clean:
	rm -rf $(VENV) $(NODE_DIR)/node_modules build dist site .nox *.egg-info .mypy_cache \
		.pytest_cache .ruff_cache
