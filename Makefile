# The two set-up commands: `make demo` and `make test`. Each creates .venv and
# installs what it needs; nothing else has to be on the machine but Python 3.11.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test test-busy chromium postgresql clean screenshots

# The offline install (docs/operations.md): every dependency of smsd-crm as wheels for this Python,
# downloaded from the registry here, so tests/test_offline_install.py installs from them alone.
BUNDLE := $(VENV)/bundle

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

# Browser tests drive Debian's chromium through the playwright Python package
# (never `playwright install`, which downloads a browser build).
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian's chromium (apt-get)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

# The storage, routing and outbox tests run on SQLite and on a real PostgreSQL server: Debian's
# package, started by the tests themselves in a temporary folder on a Unix socket (tests/postgres_server.py).
postgresql:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { \
	  echo "installing Debian's postgresql (apt-get)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; }

$(BUNDLE)/.downloaded: pyproject.toml | $(STAMP)
	rm -rf $(BUNDLE) && mkdir -p $(BUNDLE)
	$(BIN)/python -m pip wheel --quiet --no-deps --no-build-isolation -w $(BUNDLE)/own .
	$(BIN)/python -m pip download --quiet -d $(BUNDLE) $(BUNDLE)/own/smsd_crm-*.whl
	rm -rf $(BUNDLE)/own $(BUNDLE)/smsd_crm-*.whl
	touch $@

demo: $(STAMP)
	$(BIN)/smsd-crm demo -c config.yaml

test: $(STAMP) chromium postgresql $(BUNDLE)/.downloaded
	$(BIN)/lint-imports
	$(BIN)/mypy
	$(BIN)/python -m pytest -q

# The whole suite while two other processes keep two cores busy: the suite waits for events,
# never for time, so it must pass on a loaded machine too (run it before calling work done).
test-busy: $(STAMP) chromium postgresql
	$(BIN)/python bench/busy.py --cores 2 -- $(BIN)/python -m pytest -q

# The README's screenshots, as the last `make test` took them.
screenshots:
	mkdir -p docs/screenshots
	cp test-artifacts/screen-owner-phone-id-home.png docs/screenshots/home-phone.png
	cp test-artifacts/dashboard-sales-year.png docs/screenshots/sales-drill-down.png

clean:
	rm -rf $(VENV) var build *.egg-info test-artifacts
