# The two commands: `make run` starts the product, `make test` runs every test.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
STARTER := lessons/starter/prompt-fundamentals
DATA := $(or $(SANDBOX_DATA_DIR),var)

.PHONY: run serve-embedded test lint bench bench-review bench-judge requirements

$(VENV)/.runtime: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements-dev.txt
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

# requirements.txt and requirements-dev.txt are written by pip-compile from the .in files:
# edit those, then `make requirements`. It keeps today's pins where it can; to move one,
# `make requirements UPGRADE="--upgrade-package NAME"` (or UPGRADE=--upgrade for all).
PIP_COMPILE := CUSTOM_COMPILE_COMMAND="make requirements" $(VENV)/bin/pip-compile --quiet \
	--strip-extras --no-emit-index-url --no-emit-find-links --no-emit-trusted-host $(UPGRADE)
requirements: $(VENV)/.dev
	$(PIP_COMPILE) --output-file requirements.txt requirements.in
	$(PIP_COMPILE) --output-file requirements-dev.txt requirements-dev.in

# One `make run` per data folder: a second would give the demo accounts new passwords and
# start a second worker and scheduler on the same database. The shell holds the lock (fd 9)
# for as long as the product runs; the processes it starts inherit it.
run: $(VENV)/.runtime
	@mkdir -p "$(DATA)" && exec 9>"$(DATA)/run.lock" && flock --nonblock 9 || { \
	  echo "Prompt Sandbox is already running on $(DATA)/: stop it first (Ctrl-C in its" \
	    "terminal), or set SANDBOX_DATA_DIR to another folder." >&2; exit 1; }; \
	  $(MAKE) --no-print-directory serve-embedded

serve-embedded: $(VENV)/.runtime
	$(PY) manage.py migrate --noinput
	$(PY) manage.py import_course --if-new $(STARTER)
	@echo "Demo accounts (embedded default only):"
	@$(PY) manage.py create_demo_accounts
	@$(PY) manage.py create_demo_cohort
	$(PY) manage.py serve_embedded --port $(PORT)

# makemigrations --check gets an in-memory database: it compares models with migration files,
# and with CI's DATABASE_URL (a database pytest has not created yet) it waited 30 s to connect.
test: $(VENV)/.dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	DATABASE_URL=sqlite://:memory: $(PY) manage.py makemigrations --check --dry-run
	$(VENV)/bin/pytest -n 2 --dist loadgroup

bench: $(VENV)/.dev
	$(PY) -m sandbox.bench $(BENCH_ARGS)

# The review pages' server time on a seeded cohort (docs/benchmarks.md, "Review pages").
LEARNERS ?= 500
bench-review: $(VENV)/.dev
	$(PY) -m lessons.review.bench --learners $(LEARNERS) $(BENCH_ARGS)

# The judge's defence on the suite's corpora: injections with the obedient judge, correct
# answers with the honest one (exits 1 on a missed target); then judge calls per attempt on
# the starter judge exercises, with the cascade and without (docs/benchmarks.md, "LLM judge").
bench-judge: $(VENV)/.dev
	$(PY) -m graders.bench_judge
	$(PY) manage.py shell -c "from lessons import cascade_bench; cascade_bench.main()"

lint: $(VENV)/.dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
