# qstash-receiver developer tasks. `make test` and `make demo` set everything up themselves.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
NODE_DIR := tests/interop
SOURCES := $(shell find core adapters cli -name '*.py' -o -name 'py.typed' 2>/dev/null)

.PHONY: all install node lint typecheck template-lint pytest test demo bench clean

all: test

# Third-party dependencies: reinstalled only when pyproject.toml changes.
$(VENV)/.deps: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q --config-settings editable_mode=strict -e '.[dev]'
	touch $@

# A strict editable install lays out a real qstash_receiver package tree (for mypy); it
# links files, so it is refreshed whenever a module is added or removed.
$(VENV)/.linked: $(VENV)/.deps $(SOURCES)
	$(BIN)/python -m pip install -q --no-deps --config-settings editable_mode=strict -e .
	touch $@

install: $(VENV)/.linked

$(NODE_DIR)/node_modules/.installed: $(NODE_DIR)/package.json $(NODE_DIR)/package-lock.json
	cd $(NODE_DIR) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

node: $(NODE_DIR)/node_modules/.installed

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy -p qstash_receiver
	# The tests use the demo's subprocess helpers (samples/demo/qstash_demo/services.py); the
	# Django tests get their own run, as their conftest.py and tests/conftest.py share a name.
	MYPYPATH=samples/demo $(BIN)/mypy tests bench --exclude tests/django_adapter/
	MYPYPATH=samples/demo:tests $(BIN)/mypy tests/django_adapter
	# One run per sample: each is its own deployable root with its own module names.
	for sample in samples/*/; do $(BIN)/mypy "$$sample" || exit 1; done

pytest: install node
	$(BIN)/pytest -q

# The SAM template; both linters run offline and need no AWS credentials or region.
template-lint: install
	$(BIN)/cfn-lint template.yaml
	SAM_CLI_TELEMETRY=0 $(BIN)/sam validate --lint --template-file template.yaml

test: lint typecheck template-lint pytest

# The demo lives beside the samples, outside the wheel.
demo: install
	$(BIN)/python samples/demo/run_demo.py

bench: install
	$(BIN)/python bench/verify_bench.py

clean:
	rm -rf $(VENV) $(NODE_DIR)/node_modules build *.egg-info .mypy_cache .pytest_cache .ruff_cache
