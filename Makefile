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

# The server's Redis tests run a second time against a real 3-master Redis Cluster.
CLUSTER_TESTS := tests/test_store.py tests/test_api_flow.py tests/test_api_windows.py \
	tests/test_relay.py tests/test_bad_input.py tests/test_concurrency.py tests/test_issue_claims.py \
	tests/test_appt_checkin.py tests/test_issue_counts.py \
	tests/test_outbox_form.py

unit: system $(STAMP)
	$(VENV)/bin/pytest
	HALLCALL_TEST_REDIS=cluster $(VENV)/bin/pytest -q $(CLUSTER_TESTS)

test: system $(STAMP) lint unit

bench: system $(STAMP)
	$(VENV)/bin/python -m bench

clean: stop
	rm -rf var $(VENV) .pytest_cache .mypy_cache .ruff_cache *.egg-info
