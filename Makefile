# Every target sets itself up on a fresh machine with only Python 3.11: it creates .venv
# and installs what is needed the first time (and again when pyproject.toml changes).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
PORT ?= 3000

.PHONY: install run test lint bench emulator lock clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(PY) -m bot sandbox --port $(PORT)

emulator: $(STAMP)
	$(PY) -m gcp.emulator --port 8086 --seed fluxori

test: $(STAMP)
	tests/system-deps.sh
	$(PY) -m pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

bench: $(STAMP)
	$(PY) -m tests.bench

# The image installs requirements.lock (pyproject's runtime dependencies) and builds the app with
# deploy/build-requirements.lock (its build backend), both pinned with hashes for Linux and
# Python 3.11. uv runs from a throwaway venv: it is not one of the project's dependencies.
LOCK_VENV := $(or $(TMPDIR),/tmp)/fluxori-lock-venv
UV_COMPILE := $(LOCK_VENV)/bin/uv pip compile --quiet --generate-hashes --no-header \
	--python-version 3.11 --python-platform linux --upgrade

lock:
	$(PYTHON) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/python -m pip install --quiet uv
	$(UV_COMPILE) pyproject.toml -o requirements.lock
	$(PYTHON) -c "import tomllib; print(*tomllib.load(open('pyproject.toml', 'rb'))['build-system']['requires'], sep='\n')" \
		| $(UV_COMPILE) - -o deploy/build-requirements.lock
	rm -rf $(LOCK_VENV)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
