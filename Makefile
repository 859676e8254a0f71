# Portico — the two set-up commands are `make run` and `make test`; both create .venv and install.

VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
DATA_DIR ?= ./var
PYTEST_ARGS ?=

# Integration tests use the local RabbitMQ and PostgreSQL unless told otherwise.
export PORTICO_TEST_AMQP_URL ?= amqp://guest:guest@127.0.0.1:5672//
export PORTICO_TEST_DATABASE_URL ?= postgresql://postgres@127.0.0.1:5432/postgres

.PHONY: install browser run test test-fast test-chaos bench lint format clean messages

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed

run: install
	$(VENV)/bin/portico run --host $(HOST) --port $(PORT) --data-dir $(DATA_DIR)

# Browser tests drive Debian's Chromium with Playwright (no browser download): install it when missing.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian's chromium for the browser tests"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver) \
	  || echo "could not install chromium: browser tests will say so"; }

test: install browser
	$(PY) -m pytest $(PYTEST_ARGS)

test-fast: install
	$(PY) -m pytest tests/unit tests/service $(PYTEST_ARGS)

# The whole portal under load and faults, full size (make test runs its short version).
test-chaos: install
	PORTICO_CHAOS=$${PORTICO_CHAOS:-full} $(PY) -m pytest tests/chaos -s $(PYTEST_ARGS)

bench: install
	$(PY) -m bench

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy bus gateway/domain gateway/service_layer gateway/scim $(foreach part,identity subscriptions notifications importer,services/$(part)/domain services/$(part)/service_layer)

# The catalogs (docs/developing.md, "A message in English and French"): extract every marked
# message, bring each French catalog up to date (new messages come with an empty translation:
# tests/unit/i18n fails until it is written), then compile the .mo files the parts load.
CATALOGS := bus gateway services/identity services/subscriptions services/notifications services/importer
PYBABEL := $(VENV)/bin/pybabel
messages: install
	@set -e; for dir in $(CATALOGS); do \
	  $(PYBABEL) -q extract -F babel.cfg --no-default-keywords -k _l --no-location --sort-output \
	    --omit-header -o $$dir/translations/messages.pot $$dir; \
	  $(PYBABEL) -q update --init-missing -N --ignore-obsolete --ignore-pot-creation-date \
	    -i $$dir/translations/messages.pot -d $$dir/translations -l fr; \
	  $(PYBABEL) -q compile -d $$dir/translations -l fr; \
	done
	@set -e; $(PYBABEL) -q extract -F babel.cfg --no-default-keywords -k _ -k translate -k N_ \
	  --no-location --sort-output --omit-header -o gateway/translations/pages.pot gateway/web gateway/templates; \
	for lang in en fr; do \
	  $(PYBABEL) -q update --init-missing -N --ignore-obsolete --ignore-pot-creation-date \
	    -D pages -i gateway/translations/pages.pot -d gateway/translations -l $$lang; \
	  $(PYBABEL) -q compile -D pages -d gateway/translations -l $$lang; \
	done

format: install
	$(VENV)/bin/ruff format .

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache .mypy_cache
