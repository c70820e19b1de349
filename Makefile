# Two set-up commands for a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
# torch/torchvision first and pinned: on our machines this pair installs from local disk.
TORCH_SPEC ?= torch==2.14.1 torchvision==0.29.1
SHARED ?= ../shared/reference

.PHONY: install browser demo test gate clean

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet $(TORCH_SPEC) || $(PIP) install --quiet torch torchvision
	$(PIP) install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed

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
# on it (configs/micro.yaml, < 25 min on 2 cores; the run goes to runs/micro-<time>, its evaluations to the
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

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
