# The two commands of the README's quick start: `make run` and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000

.PHONY: run test test-postgres benchmark faults csv-check screenshots lock serve lint format setup setup-dev test-programs clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# The requirement files are locked with hashes (see `make lock`): pip installs nothing
# whose hash is not listed.
$(VENV)/.runtime: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet --require-hashes -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet --require-hashes -r requirements-dev.txt
	touch $@ $(VENV)/.runtime

## Update the locked requirements (with hashes) after editing requirements.in or
## requirements-dev.in; commit the .txt files it writes.
PIP_COMPILE = $(BIN)/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras --no-emit-index-url --no-emit-find-links
lock: setup-dev
	$(PIP_COMPILE) --no-header requirements.in -o requirements.txt
	$(PIP_COMPILE) --no-header requirements-dev.in -o requirements-dev.txt
	sed -i '1i # Locked by `make lock` from requirements.in, with hashes: pip checks every file it installs.\n# Edit requirements.in, never this file.' requirements.txt
	sed -i '1i # Locked by `make lock` from requirements-dev.in, with hashes: pip checks every file it installs.\n# Edit requirements-dev.in, never this file.' requirements-dev.txt

.env:
	cp .env.example .env

setup: $(VENV)/.runtime .env
	$(BIN)/python manage.py migrate --noinput

setup-dev: $(VENV)/.dev

test-programs:
	@scripts/ensure-test-programs

# On another port, Spotify must send the browser back to that port (in demo mode the
# emulator lives there too); the default keeps whatever .env says.
ifneq ($(PORT),8000)
run: export SPOTIFY_REDIRECT_URI = http://127.0.0.1:$(PORT)/accounts/callback/
endif

## Set up (first time) and run the site on http://127.0.0.1:$(PORT)/ (demo mode without Spotify
## credentials) and one worker (Procfile.dev); Ctrl-C stops both. Not honcho's own reading of
## .env (`-e /dev/null`): Django reads it, under what the environment says (a PORT's
## redirect URI above), where honcho's would put .env's over it.
run: setup
	PATH="$(CURDIR)/$(BIN):$$PATH" PORT=$(PORT) $(BIN)/honcho -f Procfile.dev -e /dev/null start

## The whole test suite, including the browser tests in Chromium.
test: setup-dev test-programs
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	DEBUG=true SECRET_KEY=check-migrations $(BIN)/python manage.py makemigrations --check --dry-run
	$(BIN)/pytest

## The same suite on PostgreSQL (CI runs both). Needs a server; see POSTGRES_URL.
POSTGRES_URL ?= postgres://postgres@127.0.0.1:5432/test
test-postgres: setup-dev test-programs
	DATABASE_URL=$(POSTGRES_URL) $(BIN)/pytest

## Benchmarks (each prints a table): whole-library load against the standalone emulator,
## stored libraries at scale in a scratch PostgreSQL database, then the app-wide budget storm.
benchmark: setup-dev
	$(BIN)/python scripts/benchmark.py
	$(BIN)/python scripts/scale.py
	$(BIN)/python scripts/storm.py

## Open a CSV export of hostile song titles in LibreOffice Calc (libreoffice-calc-nogui)
## and check that no cell became a formula.
csv-check: setup-dev
	$(BIN)/python scripts/csv_check.py

## Screenshots of the main pages, desktop and phone, from the running demo, into
## docs/screenshots/ (the README shows them): run after changing a page.
screenshots: setup-dev test-programs
	$(BIN)/python scripts/screenshots.py

## Fault drill: gunicorn, the standalone emulator and their own PostgreSQL and Redis, with
## people browsing while each fault is injected in turn (prints a table).
faults: setup-dev
	$(BIN)/python scripts/faults.py

## Production: collect static files and serve with gunicorn. Set the production variables
## in the environment first; unlike `run`, this never writes a development .env.
serve: $(VENV)/.runtime
	$(BIN)/python manage.py collectstatic --noinput -v0
	$(BIN)/gunicorn spotifysite.wsgi -c gunicorn.conf.py

lint: setup-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: setup-dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) staticfiles .pytest_cache .ruff_cache
