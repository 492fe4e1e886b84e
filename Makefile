# Two entry points (see README): `make demo` runs the main job on the embedded synthetic data,
# `make test` runs the test suite. Both create the virtual environment first if it is missing.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# A torch/torchvision pair from the package index: the local `+cpu` torch wheel has no torchvision.
TORCH_PAIR := "torch!=2.13.0+cpu,>=2.4" "torchvision==0.28.0"

.PHONY: env demo test model-table clean

env: $(STAMP)

$(STAMP): setup.py
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q $(TORCH_PAIR)
	$(PY) -m pip install -q -e ".[test,export]"
	$(PY) -c "import torch, torchvision.ops, pytorchvideo.models, av, decord, onnxruntime; print('environment ok: torch', torch.__version__, 'torchvision', torchvision.__version__)"
	touch $(STAMP)

DEMO_CFG := configs/demo/X3D_DEMO.yaml
DEMO_OUT := output/demo/X3D_DEMO
DEMO_VIDEO := output/synthetic/videos/disc_left/test_000.mp4

demo: $(STAMP)
	$(PY) -m data_prep.make_synthetic --out output/synthetic --jobs 2
	$(PY) tools/run_net.py --cfg $(DEMO_CFG)
	$(PY) tools/export_net.py --cfg $(DEMO_CFG) --measure-latency
	$(PY) tools/run_bundle.py --bundle $(DEMO_OUT)/export --video $(DEMO_VIDEO) --labels output/synthetic/classids.json
	@echo "demo done: curve $(DEMO_OUT)/curve.png, query table $(DEMO_OUT)/query_table.json, bundle $(DEMO_OUT)/export"

# GFLOPs and parameters of the real models at their full and smallest configs (about 20 s; not part of the demo)
model-table: $(STAMP)
	$(PY) tools/model_info.py --cfg configs/Kinetics/X3D_XS.yaml configs/Kinetics/X3D_S.yaml configs/Kinetics/X3D_M.yaml \
		configs/Kinetics/X3D_L.yaml configs/Kinetics/SLOWFAST_4x16_R50.yaml configs/Kinetics/SLOWFAST_8x8_R50.yaml \
		configs/Kinetics/SLOW_8x8_R50.yaml

test: $(STAMP)
	$(PY) -m pytest -q tests

clean:
	rm -rf $(VENV) output
