# clipbook: every target sets up what is missing first, so each works alone on a fresh machine.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
PROFILE ?= auto
DEVICE  ?= auto
# lightly asks the network for its latest version on import unless told not to.
export LIGHTLY_DID_VERSION_CHECK := True
export PYTHONUNBUFFERED := 1

.PHONY: setup run test unit notebooks test-browser lab bench bench-learning bench-gpu clean

setup: $(STAMP)

$(STAMP): requirements.txt constraints.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --no-cache-dir -r requirements.txt -c constraints.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-cache-dir --no-deps --no-build-isolation -e .
	touch $(STAMP)

## Execute every notebook with papermill into outputs/<notebook stem>/ (PROFILE=quick|full|auto).
run: setup
	$(PY) -m clipbook.runner --profile $(PROFILE) --device $(DEVICE)

## Unit tests and every notebook through papermill on the quick profile, on TEST_WORKERS pytest-xdist workers
## (a notebook's tests stay together on one worker; notebooks 01, 02, 03 and 05 share one, as they share its CLIP).
TEST_WORKERS ?= 2
test: setup
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadgroup --durations=30

unit: setup
	$(PY) -m pytest -m "not notebook and not browser"

notebooks: setup
	$(PY) -m pytest -m notebook

## Notebooks 03 and 04 and their playgrounds in a real browser: JupyterLab driven by Playwright (PyPI) in headless Chromium
## (Debian's package, installed here when missing; Playwright's own browser download cannot work offline).
CHROMIUM ?= /usr/bin/chromium
test-browser: setup
	test -x $(CHROMIUM) || apt-get install -y -q chromium || (apt-get update -q && apt-get install -y -q chromium)
	$(PY) -c "import playwright" 2>/dev/null || \
	  $(PY) -m pip install --quiet --disable-pip-version-check playwright -c constraints.txt
	CLIPBOOK_CHROMIUM=$(CHROMIUM) $(PY) -m pytest -m browser tests/browser

## JupyterLab on the environment, with its kernel registered.
lab: setup
	$(PY) -m ipykernel install --sys-prefix --name clipbook --display-name "Python (clipbook)"
	cd notebooks && ../$(PY) -m jupyter lab

## CPU benchmarks; writes benchmarks/latest.json.
bench: setup
	$(PY) benchmarks/run_cpu.py

## Held-out zero-shot accuracy against training seconds, clipbook's recipe beside open_clip_train.main on the
## same images (~15 min on a 2-core CPU); updates benchmarks/latest.json and benchmarks/learning_efficiency.png.
bench-learning: setup
	$(PY) benchmarks/bench_learning.py

## GPU benchmarks on a machine with one CUDA GPU (PEAK_TFLOPS: its bf16 dense peak); writes benchmarks/gpu.json.
PEAK_TFLOPS ?= 989
bench-gpu: setup
	$(PY) benchmarks/run_gpu.py --peak-tflops $(PEAK_TFLOPS)

clean:
	rm -rf outputs data/cache data/checkpoints
