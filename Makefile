# Two set-up commands for a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
# torch/torchvision first and pinned: on our machines this pair installs from local disk.
TORCH_SPEC ?= torch==2.14.1 torchvision==0.29.1
SHARED ?= ../shared/reference

.PHONY: install demo test clean

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet $(TORCH_SPEC) || $(PIP) install --quiet torch torchvision
	$(PIP) install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed

test: install
	$(PY) -m pytest -q

# The demo builds the offline micro-world and scores the small example answer files the project ships.
# (The micro models and the CSR loop join it as they land.)
demo: install
	$(VENV)/bin/csr-eval micro build --out runs/micro-world
	$(VENV)/bin/csr-eval score pope --annotation-dir examples/pope --question-file examples/pope/questions.jsonl --result-file examples/pope/answers.jsonl
	$(VENV)/bin/csr-eval score chair --captions examples/chair/captions.jsonl --coco-annotations examples/chair/annotations
	$(VENV)/bin/csr-eval score mme --results-dir examples/mme

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
