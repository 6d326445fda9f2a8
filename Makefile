# Two entry points for a fresh machine with only python3 (and make):
#   make quickstart   install hpo into .venv and run the quickstart study
#   make test         install hpo with test dependencies and run the whole suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: quickstart test lint bench clean postgresql

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

quickstart: $(VENV)/.installed
	$(BIN)/hpo run studies/quickstart.yaml

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# The PostgreSQL storage tests start their own server from Debian's postgresql package: as
# root with apt-get (CI), install it when it is missing; elsewhere those tests say why they skip.
postgresql:
	@if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql; \
	else echo "note: no PostgreSQL server here; its tests will be skipped (apt-get install postgresql)"; fi

# pytest exits 5 when it collected no tests; that is not a failure of the suite.
test: $(VENV)/.installed-test lint postgresql
	$(BIN)/python -m pytest -q; rc=$$?; if [ $$rc -eq 5 ]; then rc=0; fi; exit $$rc

bench: $(VENV)/.installed-test
	$(MAKE) -C benchmarks all PY=$(abspath $(BIN)/python)

clean:
	rm -rf $(VENV) studies/runs studies/*.journal studies/*.journal.lock
