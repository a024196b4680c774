# spikegate: `make demo` runs the main job, `make test` runs the whole suite.
# Both build their environments from nothing on a fresh machine.

PYTHON   ?= python3
# Lava only runs on Python 3.10; pyenv provides it on these machines.
PY310    ?= $(shell for p in python3.10 $$HOME/.pyenv/versions/3.10*/bin/python3.10; do \
              $$p -c 'import sys; assert sys.version_info[:2]==(3,10)' 2>/dev/null && { echo $$p; break; }; done)
VENV     := .venv
LAVA     := .venv-lava
PIP      := $(VENV)/bin/python -m pip install -q -c constraints.txt
OUT      ?= runs

.PHONY: demo test install install-test lava-env clean

$(VENV)/.base: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install -q --upgrade pip
	$(PIP) torch==2.13.0
	$(PIP) -e '.[data]'
	touch $@

$(VENV)/.test: $(VENV)/.base
	$(PIP) -e '.[test]'
	# Benchmark peers: their declared torchvision/torchaudio would drag in a CUDA torch, and
	# their neurons do not need them.
	$(PIP) --no-deps norse==1.1.0 spikingjelly==2.0.0
	$(PIP) loguru nirtorch requests
	touch $@

$(LAVA)/.env:
	@test -n "$(PY310)" || { echo "Python 3.10 is needed for Lava (pyenv install 3.10)"; exit 1; }
	$(PY310) -m venv $(LAVA)
	$(LAVA)/bin/python -m pip install -q --upgrade pip
	$(LAVA)/bin/python -m pip install -q lava-nc==0.10.0 h5py 'numpy<2'
	touch $@

install: $(VENV)/.base
install-test: $(VENV)/.test
lava-env: $(LAVA)/.env

demo: $(VENV)/.base
	$(VENV)/bin/spikegate demo --out $(OUT)/demo

test: $(VENV)/.test $(LAVA)/.env
	$(VENV)/bin/python -m pytest -q

clean:
	rm -rf $(VENV) $(LAVA) $(OUT) .pytest_cache
