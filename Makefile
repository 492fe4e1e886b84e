# Two entry points (see README): `make demo` runs the main job on the embedded synthetic data,
# `make test` runs the test suite. Both create the virtual environment first if it is missing.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# A torch/torchvision pair from the package index: the local `+cpu` torch wheel has no torchvision.
TORCH_PAIR := "torch!=2.13.0+cpu,>=2.1" "torchvision==0.28.0"

.PHONY: env demo test clean

env: $(STAMP)

$(STAMP): setup.py
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q $(TORCH_PAIR)
	$(PY) -m pip install -q -e ".[test,export]"
	$(PY) -c "import torch, torchvision.ops, pytorchvideo.models, av, decord, onnxruntime; print('environment ok: torch', torch.__version__, 'torchvision', torchvision.__version__)"
	touch $(STAMP)

demo: $(STAMP)
	$(PY) tools/demo.py

test: $(STAMP)
	$(PY) -m pytest -q tests

clean:
	rm -rf $(VENV) output
