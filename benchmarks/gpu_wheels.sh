#!/usr/bin/env bash
# Download, into .whl/ (git-ignored), the wheels a lent GPU machine lacks to run the GPU benchmarks and the
# notebooks: its image has Python 3.12 with torch, torchvision, torchmetrics, timm, scikit-learn, seaborn,
# tqdm and safetensors, and no package index. Run this here (where pip reaches the registry), then carry
# .whl to the device; benchmarks/gpu_session.sh installs them there. Versions are the pins of
# constraints.txt; the device keeps its own torch.
set -euo pipefail
cd "$(dirname "$0")/.."
pin() { grep -i "^$1==" constraints.txt | head -1; }
packages=(
  # CLIP, its training entry point and the data it reads
  open_clip_torch ftfy wcwidth webdataset braceexpand
  # SimCLR
  lightly hydra-core omegaconf
  # search and document pages
  faiss-cpu pypdfium2
  # papermill and the kernel it starts; widgets
  papermill nbclient nbformat jupyter_client jupyter_core ipykernel ipython ipython_pygments_lexers traitlets
  fastjsonschema jsonschema jsonschema-specifications referencing rpds-py tenacity entrypoints pyzmq tornado
  comm debugpy matplotlib-inline nest-asyncio2 platformdirs jedi parso pexpect ptyprocess prompt_toolkit
  stack-data executing asttokens pure_eval ipywidgets widgetsnbextension jupyterlab_widgets
)
specs=()
for p in "${packages[@]}"; do
  s=$(pin "$p") || { echo "no pin for $p in constraints.txt" >&2; exit 1; }
  specs+=("$s")
done
mkdir -p .whl
python3 -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: --python-version 3.12 \
  --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 \
  --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --platform manylinux1_x86_64 \
  --platform manylinux_2_24_x86_64 --platform manylinux_2_31_x86_64 --platform manylinux_2_34_x86_64 \
  -d .whl "${specs[@]}"
# published as source only (pure Python): build the wheel here
python3 -m pip wheel --quiet --disable-pip-version-check --no-deps -w .whl "$(pin antlr4-python3-runtime)"
du -sh .whl
