# Every target works on a fresh Debian machine with Python 3.11.
# The first interpreter that writes no decoded line break into an email header
# (newsletter/mail/pythoncheck.py): a python3 without the fix for CVE-2024-6923 is
# passed over for Debian's own, which has it.
PYTHON ?= $(firstword $(foreach candidate,python3 /usr/bin/python3,\
	$(shell $(candidate) newsletter/mail/pythoncheck.py >/dev/null 2>&1 && echo $(candidate))))
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app wsgi
TRANSLATIONS := newsletter/translations

.PHONY: run test lint fmt bench translations install clean vendor-turndown

$(BIN)/flask: pyproject.toml
	@test -n "$(PYTHON)" || { python3 newsletter/mail/pythoncheck.py; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	@touch $@

# axe-core for the accessibility tests, from the npm registry.
node_modules/axe-core/axe.min.js: package.json
	npm install --no-audit --no-fund --silent
	@touch $@

install: $(BIN)/flask

## Run the service locally: SQLite, demo content, web on http://127.0.0.1:$(PORT),
## the mail catcher's SMTP on $(SMTP_PORT); e.g. make run PORT=5301 SMTP_PORT=8301.
PORT ?= 5000
SMTP_PORT ?= 8025
run: install
	NEWSLETTER_ENV=development $(FLASK) db upgrade
	NEWSLETTER_ENV=development $(FLASK) demo
	NEWSLETTER_ENV=development $(FLASK) dev --port $(PORT) --smtp-port $(SMTP_PORT)

## Run the whole test suite: lint, then SQLite, PostgreSQL and browser tests.
## tests/with-services.sh installs and starts PostgreSQL and chromium when missing.
test: install node_modules/axe-core/axe.min.js
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy newsletter
	tests/with-services.sh $(BIN)/pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy newsletter

fmt: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: install
	@for script in benchmarks/*.py; do [ -e "$$script" ] && $(BIN)/python "$$script"; done; true

## Extract messages, merge them into the catalogs and compile them.
translations: install
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext --no-location \
		--sort-output -o $(TRANSLATIONS)/messages.pot .
	$(BIN)/pybabel update -i $(TRANSLATIONS)/messages.pot -d $(TRANSLATIONS) \
		--no-fuzzy-matching --ignore-obsolete
	$(BIN)/pybabel compile -d $(TRANSLATIONS) --statistics

## Refresh the vendored turndown (paste conversion in the text fields) from the
## npm registry; e.g. make vendor-turndown TURNDOWN_VERSION=7.2.5.
TURNDOWN_VERSION ?= 7.2.5
TURNDOWN_DIR := newsletter/static/vendor/turndown
vendor-turndown:
	rm -rf build/turndown && mkdir -p build/turndown
	cd build/turndown && npm pack --silent turndown@$(TURNDOWN_VERSION) \
		&& tar xzf turndown-$(TURNDOWN_VERSION).tgz
	cp build/turndown/package/lib/turndown.browser.umd.js $(TURNDOWN_DIR)/turndown.js
	cp build/turndown/package/LICENSE $(TURNDOWN_DIR)/LICENSE
	sed -i 's/^# turndown .* (vendored)$$/# turndown $(TURNDOWN_VERSION) (vendored)/; s/turndown) [0-9.]*, unchanged/turndown) $(TURNDOWN_VERSION), unchanged/' $(TURNDOWN_DIR)/README.md
	rm -rf build/turndown

clean:
	rm -rf $(VENV) instance .pytest_cache .ruff_cache .mypy_cache
