# `make test` and `make demo` set up everything on a fresh machine first.
VENV ?= .venv
PY := $(VENV)/bin/python
# mmcv's ops for the CPU (default, also on a GPU host) or with CUDA kernels:
# make test MMCV_BUILD=cuda (docs/install.md); the one stamp names the kind
# last set up
MMCV_BUILD ?= cpu
STAMP := $(VENV)/.coretune_mm-env-$(MMCV_BUILD)
# e.g. make test TORCH_SPEC="torch==2.14.1 torchvision==0.29.1" (fresh .venv)
export TORCH_SPEC MMCV_BUILD

.PHONY: env lint test test-fast demo clean

env: $(STAMP)

$(STAMP): setup.py tools/setup_env.sh
	VENV=$(VENV) bash tools/setup_env.sh
	rm -f $(VENV)/.coretune_mm-env*
	touch $(STAMP)

# the host libraries' linters and spelling/docstring checks (options in
# setup.cfg), then the tests
lint: env
	$(PY) -m flake8 coretune_mm tools tests configs setup.py
	$(PY) -m isort --check-only --diff coretune_mm tools tests configs
	$(PY) -m yapf --diff --recursive coretune_mm tools tests configs setup.py
	$(VENV)/bin/codespell coretune_mm tools tests configs docs README.md \
		setup.py setup.cfg Makefile
	$(VENV)/bin/docformatter --check --wrap-descriptions 79 --recursive \
		coretune_mm tools tests configs setup.py

test: lint
	$(PY) -m pytest tests

# the edit-test loop: everything but Runner, subprocess, multi-process and
# whole-config tests (marked slow in tests/conftest.py); CI runs `make test`
test-fast: env
	$(PY) -m pytest -m "not slow" tests

demo: env
	$(PY) tools/demo.py

clean:
	rm -rf work_dirs data/demo
