# Two set-up commands for a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
# The environment is locked: requirements.lock (exported from uv.lock by `make lock`) pins every package,
# direct and transitive, with hashes. pip installs it with pip's own configured indexes, so on our machines
# torch 2.14.1 / torchvision 0.29.1 come from local disk (same files, same hashes as on PyPI). --no-deps: the
# lock already holds every dependency (extras' too; pip cannot pin `pkg[extra]` under --require-hashes), and
# `pip check` then proves the set is consistent.
LOCK := requirements.lock
UV_VERSION := 0.13.9
UV := $(VENV)/bin/uv

$(VENV)/.installed: $(LOCK) pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --require-hashes --no-deps -r $(LOCK)
	$(PIP) install --quiet --no-deps --no-build-isolation -e .
	$(PIP) check
	touch $@

install: $(VENV)/.installed

# Run after any change to the dependencies in pyproject.toml (and commit uv.lock + requirements.lock with
# it). `make lock UPGRADE=1` moves every package to the newest release the bounds allow.
$(VENV)/bin/uv:
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet uv==$(UV_VERSION)
lock: $(UV)
	$(UV) lock $(if $(UPGRADE),--upgrade)
	$(UV) export --quiet --format requirements-txt --frozen --no-emit-project --extra dev -o $(LOCK)

# Fails, saying "run make lock", when pyproject.toml and the lock disagree (CI runs it first).
lock-check: $(UV)
	$(PY) scripts/check_lock.py stale --uv $(UV)

# The venv holds exactly the lock's packages (pip freeze --all against requirements.lock).
env-check: install
	$(PY) scripts/check_lock.py installed --python $(PY)

# Debian's Chromium and ChromeDriver for the leaderboard's real-browser test (never a browser download).
# Without apt (or rights to use it) the test skips and says so; CI sets CSR_REQUIRE_BROWSER=1 to fail instead.
BROWSER_PACKAGES ?= chromium chromium-driver
browser:
	@if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then \
	  SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$SUDO apt-get install -y $(BROWSER_PACKAGES) >/dev/null 2>&1 || \
	  { $$SUDO apt-get update >/dev/null && $$SUDO apt-get install -y $(BROWSER_PACKAGES) >/dev/null; } || \
	  echo "make browser: could not install $(BROWSER_PACKAGES); the browser test will skip"; \
	fi

test: install browser
	$(PY) -m pytest -q

# The regression gate: the shipped micro-LLaVA on the micro suite against the committed reference results.
# Exits 1 when POPE F1 or CHAIR regress beyond tolerance. (A fresh database each time: nothing is reused.)
GATE_REFERENCE ?= configs/gate/micro-llava.json
gate: install
	rm -f results/gate.db
	$(VENV)/bin/csr-eval check --model micro-llava --suite micro --against $(GATE_REFERENCE) --db results/gate.db

# The demo builds the offline micro-world, evaluates the shipped micro-LLaVA on it, runs 3 CSR iterations
# on it (configs/micro.yaml, the issue-14 recipe: csr-train 5 min 32 s on 2 cores, make demo 9 min 8 s on a fresh clone; the run goes to runs/micro-<time>, its evaluations to the
# default store results/csr.db, and it prints base vs iterations), evaluates iter3 of that run through
# csr-eval, and scores the small example answer files the project ships.
demo: install
	$(VENV)/bin/csr-eval micro build --out runs/micro-world
	$(VENV)/bin/csr-eval --model base --suite all --db results/demo.db
	$(VENV)/bin/csr-train --config configs/micro.yaml
	$(VENV)/bin/csr-eval --model iter3 --suite micro
	$(VENV)/bin/csr-eval score pope --annotation-dir examples/pope --question-file examples/pope/questions.jsonl --result-file examples/pope/answers.jsonl
	$(VENV)/bin/csr-eval score chair --captions examples/chair/captions.jsonl --coco-annotations examples/chair/annotations
	$(VENV)/bin/csr-eval score mme --results-dir examples/mme

# The early warning, outside the default CI: a throwaway venv from pyproject.toml's bounds without the lock
# (whatever the index serves today), and the whole suite run there. What fails here breaks the next `make lock`.
LATEST_VENV ?= .venv-latest
test-latest: browser
	rm -rf $(LATEST_VENV)
	$(PYTHON) -m venv $(LATEST_VENV)
	$(LATEST_VENV)/bin/pip install --quiet -e '.[dev]'
	$(LATEST_VENV)/bin/pip freeze --all --exclude-editable > $(LATEST_VENV)/freeze.txt
	$(LATEST_VENV)/bin/python scripts/check_lock.py installed --python $(LATEST_VENV)/bin/python || true
	$(LATEST_VENV)/bin/python -m pytest -q

# The lower bounds in pyproject.toml, checked: every direct dependency at the oldest version its bound allows
# (uv's lowest-direct resolution; torch stays at the locked build, the only one our machines hold), then the
# whole suite. A failure here means a bound claims more than the code supports.
LOWEST_VENV ?= .venv-lowest
test-lowest: $(UV) browser
	rm -rf $(LOWEST_VENV)
	$(PYTHON) -m venv $(LOWEST_VENV)
	grep -E '^(torch|torchvision)==' $(LOCK) | sed 's/ .*//' > $(LOWEST_VENV)/torch.txt
	$(UV) pip compile pyproject.toml --extra dev --resolution lowest-direct --python $(LOWEST_VENV)/bin/python \
	  -c $(LOWEST_VENV)/torch.txt --no-header --no-annotate --quiet -o $(LOWEST_VENV)/lowest.txt
	$(LOWEST_VENV)/bin/pip install --quiet --no-deps -r $(LOWEST_VENV)/lowest.txt
	$(LOWEST_VENV)/bin/pip install --quiet --no-deps --no-build-isolation -e .
	$(LOWEST_VENV)/bin/pip check
	$(LOWEST_VENV)/bin/python -m pytest -q

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
