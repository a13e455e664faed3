# hallcall: `make run` brings up the demo hall, `make test` runs every test.
SHELL := /bin/bash
VENV := .venv
STAMP := $(VENV)/.installed-$(shell cksum < pyproject.toml | cut -d' ' -f1)

.PHONY: run stop test lint unit bench clean system

system:
	@scripts/ensure-system.sh

$(STAMP): pyproject.toml
	@[ -x $(VENV)/bin/python ] || python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[server,display,window,sms,dev]'
	@rm -f $(VENV)/.installed-*; touch $@

run: system $(STAMP)
	@scripts/services.sh start
	@scripts/services.sh info

stop:
	@scripts/services.sh stop

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

unit: system $(STAMP)
	$(VENV)/bin/pytest

test: system $(STAMP) lint unit

bench: system $(STAMP)
	$(VENV)/bin/python -m bench

clean: stop
	rm -rf var $(VENV) .pytest_cache .mypy_cache .ruff_cache *.egg-info
