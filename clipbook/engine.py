"""clipbook's one training loop: every trainer (CLIP, SimCLR, the objective comparison) goes through `fit`.

As in open_clip's ``train_one_epoch``, one loop serves every model and loss. A method supplies three pieces
(lightly's examples read the same way): the model that is updated and saved, a batch -> loss function, and what
happens after a step (CLIP clamps its logit scale). The engine owns the rest:

* the sampling order (a fresh permutation of the uint8 corpus every epoch, drawn from one seeded generator);
* AdamW over open_clip's decay / no-decay groups with linear warm-up and cosine decay, fused where it runs;
* bf16 autocast on CUDA, and on a CPU with native bf16 where a short measurement finds it faster for the model
  at hand (``training_autocast``); DDP under torchrun, optional ``torch.compile``;
* the per-step log and clock (read back once, so a GPU never waits for the CPU), a progress bar;
* evaluations at chosen steps (notebook 06's learning curves);
* load-or-train caching and safe checkpoint writes (temporary file, then rename);
* runs that resume: a state (model, optimizer, schedule, step, generator and RNG states, history) is written every
  so many seconds or steps; a run started again with the same arguments continues from it, and says so. The state
  is removed once the finished checkpoint is written.

The library calls ``backward()`` here and nowhere else.
"""
from __future__ import annotations

import ast
import contextlib
import copy
import hashlib
import json
import math
import os
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import numpy as np
import torch
from tqdm.auto import tqdm

from . import distributed
from .models import checkpoint_info, save_checkpoint
from .preprocess import images_to_tensor
from .utils import atomic_path, check_choice, check_positive, cpu_has_native_bf16, data_dir, wants_bf16

_STATE_FORMAT = "clipbook-resume-state"
DEFAULT_RESUME_SECONDS = 60.0


# --------------------------------------------------------------------------- the result
@dataclass
class TrainResult:
    """What every trainer returns: the model, its tokenizer (None without text), the per-step history, the
    evaluations made during training, and the timings."""

    model: torch.nn.Module
    tokenizer: Any
    model_name: str
    checkpoint: Path | None
    history: dict[str, list[float]] = field(default_factory=dict)
    train_seconds: float = 0.0
    samples_seen: int = 0
    loaded: bool = False
    evaluations: dict[str, list[float]] = field(default_factory=dict)
    resumed_from: int | None = None
    local_dir: Path | None = None  # a CLIP's open_clip `local-dir:` copy of the checkpoint (train_clip)
    # "bf16" (autocast) or "fp32": what the steps ran in; None for a checkpoint saved before it was recorded. On a CPU
    # with native bf16 the engine chooses by a timing probe, and the two can train measurably different models.
    precision: str | None = None

    @property
    def samples_per_second(self) -> float:
        return self.samples_seen / self.train_seconds if self.train_seconds > 0 else float("nan")

    def steady_samples_per_second(self, skip: int = 10) -> float:
        """Samples/s from the end of step `skip` to the end of the last step, from the per-step clock in the
        history: leaves out start-up, warm-up and (with compile=True) compilation."""
        steps, seconds = self.history.get("step", []), self.history.get("seconds", [])
        if len(seconds) != len(steps) or not steps:
            raise ValueError("this result has no per-step clock: train it again with this clipbook version.")
        first = next((i for i, s in enumerate(steps) if s >= skip), None)
        if first is None or first == len(steps) - 1:
            raise ValueError(f"skip={skip} is not allowed: it must leave at least two logged steps of the "
                             f"{steps[-1] + 1} trained.")
        per_step = self.samples_seen / (steps[-1] + 1)
        return (steps[-1] - steps[first]) * per_step / (seconds[-1] - seconds[first])

    @property
    def initial_loss(self) -> float:
        """Loss of the first training batch, before any update."""
        return self.history["loss"][0]

    @property
    def final_loss(self) -> float:
        """Mean loss of the last 5% of steps (at least one)."""
        losses = self.history["loss"]
        return float(np.mean(losses[-max(1, len(losses) // 20):]))


# --------------------------------------------------------------------------- what a method supplies
@dataclass
class Method:
    """A training method's three pieces, and how its optimizer is tuned.

    `loss(net, batch, generator)` gets the network to call (the model, wrapped for DDP / compile as asked), the
    global batch's indices into the corpus and the run's generator; it returns the loss and a dict of scalars to
    log. Under DDP every process gets the same global batch and takes its own share. `after_step()` runs after
    every optimizer step. `evaluate()` (optional) returns scalars, at the steps given to `fit`."""

    name: str
    model: torch.nn.Module
    loss: Callable[[torch.nn.Module, torch.Tensor, torch.Generator], tuple[torch.Tensor, dict[str, torch.Tensor]]]
    after_step: Callable[[], None] = lambda: None
    tokenizer: Any = None
    evaluate: Callable[[], dict[str, float]] | None = None
    betas: tuple[float, float] = (0.9, 0.98)
    eps: float = 1e-6


# --------------------------------------------------------------------------- precision
# A CPU with native bf16 does not make bf16 autocast pay for every model. Measured on a Xeon with AMX, one thread,
# batch 64: SimCLR's convnet trained 2.0x faster under it, clipbook-tiny 1.4-1.7x and clipbook-page 1.1x (1.4x with
# 16-px patches) slower (autocast's casts cost more than small matmuls gain). So each method is measured once per
# process.
_CPU_BF16_PAYS: dict[tuple, bool] = {}
# bf16 must measure at least this much faster. The line sits in the gap between the models it pays for and those it
# does not, so that noise cannot flip a model's precision from run to run (the two train measurably different
# models). On an EPYC with AVX512-BF16 under `make test` (one thread, two processes; 2026-11-28) the CLIPs read
# 0.89-1.18x (clipbook-tiny at batch 16-64, its sigmoid variant, clipbook-page), SimCLR's convnet 1.38-1.61x; at the
# former line of 1.1x clipbook-tiny trained in bf16 in some runs and in full precision in others.
BF16_MIN_SPEEDUP = 1.25


def _bf16_speedup(method: Method, n: int, batch_size: int, data_device: torch.device, repeats: int = 2,
                  rounds: int = 3) -> float:
    """fp32 seconds over bf16-autocast seconds of `repeats` forward and backward passes of `method` on one batch,
    on a copy of its model (the run's model, generator and random state are left as they were). The precisions
    alternate for `rounds` rounds after one that warms up, and each keeps its fastest round: under `make test`
    one round each once read SimCLR's convnet at 1.00x (1.3-1.8x in every other measurement), as work starting on
    the other core slowed one of the two."""
    probe = copy.deepcopy(method.model).train()
    idx = torch.arange(min(batch_size, n), device=data_device)
    seconds: dict[bool, float] = {False: math.inf, True: math.inf}
    with torch.random.fork_rng(devices=[]):
        for round_ in range(rounds + 1):
            for bf16 in (False, True):
                amp = torch.autocast("cpu", dtype=torch.bfloat16) if bf16 else torch.autocast("cpu", enabled=False)
                gen = torch.Generator(device=data_device).manual_seed(0)
                start = time.perf_counter()
                for _ in range(repeats):
                    with amp:
                        loss, _ = method.loss(probe, idx, gen)
                    loss.backward()
                if round_ > 0:  # the first round warms up
                    seconds[bf16] = min(seconds[bf16], time.perf_counter() - start)
                probe.zero_grad(set_to_none=True)
    return seconds[False] / seconds[True]


def training_autocast(method: Method, n: int, batch_size: int, ctx: distributed.Context,
                      data_device: torch.device) -> tuple[torch.autocast, str]:
    """The autocast `fit` trains `method` under, and what it computes in ("bf16" or "fp32"): ``utils.autocast``'s
    (bf16 on CUDA, full precision on a CPU without native bf16, what ``CLIPBOOK_CPU_BF16`` says when it is set),
    except on a CPU with native bf16, where bf16 is used only when it measured at least `BF16_MIN_SPEEDUP` (1.25x)
    faster for this model and batch (`_bf16_speedup`, the fastest of three rounds of two passes in each
    precision, once per process)."""
    dev = ctx.device
    if dev.type != "cpu" or ctx.distributed or os.environ.get("CLIPBOOK_CPU_BF16") is not None \
            or not cpu_has_native_bf16():
        bf16 = wants_bf16(dev)
        return torch.autocast(dev.type, dtype=torch.bfloat16, enabled=bf16), "bf16" if bf16 else "fp32"
    key = (method.name, type(method.model).__name__, sum(p.numel() for p in method.model.parameters()), batch_size)
    if key not in _CPU_BF16_PAYS:
        speedup = _bf16_speedup(method, n, batch_size, data_device)
        _CPU_BF16_PAYS[key] = speedup >= BF16_MIN_SPEEDUP
        if ctx.is_main:
            print(f"This CPU has native bf16: bf16 autocast measured {speedup:.2f}x as fast as full precision for "
                  f"{method.name} at batch {batch_size}, so {method.name} trains in "
                  f"{'bf16 autocast' if _CPU_BF16_PAYS[key] else 'full precision'}.")
    bf16 = _CPU_BF16_PAYS[key]
    return torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16), "bf16" if bf16 else "fp32"


# --------------------------------------------------------------------------- optimizer and schedule
def cosine_schedule(step: int, total: int, warmup: int) -> float:
    """Learning-rate multiplier: linear warm-up to 1, then cosine decay to 0."""
    if step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))


def param_groups(model: torch.nn.Module, weight_decay: float) -> list[dict]:
    """open_clip's rule: no weight decay on gains, biases, norms, embeddings' 1-D params and logit_scale."""
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        exclude = p.ndim < 2 or "bn" in name or "ln" in name or "bias" in name or "logit_scale" in name
        (no_decay if exclude else decay).append(p)
    return [{"params": no_decay, "weight_decay": 0.0}, {"params": decay, "weight_decay": weight_decay}]


def check_schedule(lr: float, warmup: float, weight_decay: float) -> None:
    """lr a positive number; warm-up a fraction of the steps in [0, 1); weight decay a number >= 0."""
    check_positive("lr", lr, integer=False)
    if not (isinstance(warmup, (int, float)) and 0 <= warmup < 1):
        raise ValueError(f"warmup={warmup!r} is not allowed: it is the warm-up fraction of steps, in [0, 1).")
    if not (isinstance(weight_decay, (int, float)) and weight_decay >= 0):
        raise ValueError(f"weight_decay={weight_decay!r} is not allowed: it must be a number >= 0.")


def optimizer_and_schedule(model: torch.nn.Module, lr: float, weight_decay: float, total_steps: int,
                           warmup: float, betas: tuple[float, float] = (0.9, 0.98), eps: float = 1e-6):
    """AdamW over open_clip's decay / no-decay groups, with linear warm-up and cosine decay per step.
    The fused AdamW kernel on CUDA and the CPU (on this 2-core CPU its step takes half the time of the
    multi-tensor one on clipbook-tiny); torch's default elsewhere."""
    fused = next(model.parameters()).device.type in ("cuda", "cpu") or None
    optimizer = torch.optim.AdamW(param_groups(model, weight_decay), lr=lr, betas=betas, eps=eps, fused=fused)
    warm = max(1, int(round(warmup * total_steps)))
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: cosine_schedule(s, total_steps, warm))
    return optimizer, scheduler


# --------------------------------------------------------------------------- the per-step log
class StepLog:
    """Per-step history kept as device tensors and read back once at the end; the progress bar reads the
    latest loss only every `show_every` steps. A `.item()` per step would make a GPU wait for the CPU.
    Each logged step's end is clocked from the start of the loop (`offset` seconds had passed before it, in
    an earlier run this one resumes): on CUDA with an event in the stream (no waiting), elsewhere with the
    wall clock. Time spent in evaluations (`paused`) is not training time and is left out of the clock."""

    def __init__(self, ctx: distributed.Context, bar, show_every: int = 25, offset: float = 0.0) -> None:
        self.ctx, self.bar, self.show_every, self.offset = ctx, bar, show_every, offset
        self.cuda = ctx.device.type == "cuda"
        self.steps: list[int] = []
        self.lr: list[float] = []
        self.marks: list = []
        self.paused = 0.0  # seconds spent evaluating so far
        self.paused_at: list[float] = []
        self.values: dict[str, list[torch.Tensor]] = {}
        self.start = self._mark()

    def _mark(self):
        if not self.cuda:
            return time.perf_counter()
        event = torch.cuda.Event(enable_timing=True)
        event.record()
        return event

    def add(self, step: int, lr: float, **values: torch.Tensor) -> None:
        self.marks.append(self._mark())
        self.paused_at.append(self.paused)
        self.steps.append(step)
        self.lr.append(lr)
        for name, value in values.items():
            self.values.setdefault(name, []).append(value.detach().float().reshape(()))
        if len(self.steps) % self.show_every == 1:
            self.bar.set_postfix({k: f"{v[-1].item():.3f}" for k, v in self.values.items()}, refresh=False)

    def history(self, reduce: bool = True) -> dict[str, list[float]]:
        """{"step", "lr", "seconds" (since the loop started) and every logged value}; with `reduce`, "loss" is
        averaged over processes in a distributed job (a collective: every process must call it)."""
        out: dict[str, list[float]] = {"step": list(self.steps)}
        if self.cuda:
            torch.cuda.synchronize(self.ctx.device)
            seconds = [self.offset + self.start.elapsed_time(m) / 1000 - p for m, p in zip(self.marks, self.paused_at)]
        else:
            seconds = [self.offset + m - self.start - p for m, p in zip(self.marks, self.paused_at)]
        for name, values in self.values.items():
            stacked = torch.stack(values) if values else torch.zeros(0)
            if name == "loss" and reduce:
                stacked = distributed.mean_tensor(stacked, self.ctx)
            out[name] = stacked.cpu().tolist()
        out["lr"] = list(self.lr)
        out["seconds"] = seconds
        return out


def _join(before: dict[str, list], after: dict[str, list]) -> dict[str, list]:
    """Histories of a run's resumed parts, one after the other."""
    return {k: list(before.get(k, [])) + list(after.get(k, [])) for k in dict.fromkeys([*before, *after])}


# --------------------------------------------------------------------------- caching and checkpoints
def fingerprint(params: dict, *arrays: torch.Tensor | np.ndarray, texts: Sequence[Sequence[str]] | None = None) -> str:
    """16 hex digits naming a run: its parameters, and the bytes of its data and captions."""
    h = hashlib.sha256(json.dumps(params, sort_keys=True, default=str).encode())
    for a in arrays:
        a = a.numpy() if isinstance(a, torch.Tensor) else np.asarray(a)
        h.update(str(a.shape).encode())
        h.update(np.ascontiguousarray(a).tobytes())
    if texts is not None:
        h.update(json.dumps([list(t) for t in texts]).encode())
    return h.hexdigest()[:16]


def checkpoint_path(name: str, key: str, checkpoint_dir: str | Path | None = None) -> Path:
    """Where a run's finished checkpoint lives: `checkpoint_dir` (default data/checkpoints)/<name>-<key>.safetensors."""
    folder = Path(checkpoint_dir) if checkpoint_dir is not None else data_dir("checkpoints")
    return folder / f"{name}-{key}.safetensors"


def resume_path(checkpoint: Path) -> Path:
    """The resumable state beside a checkpoint that is not finished yet."""
    return checkpoint.with_name(checkpoint.name.replace(".safetensors", ".resume.pt"))


try:  # POSIX; elsewhere two processes asking for one checkpoint both train it (and the last rename wins)
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None


@contextlib.contextmanager
def cache_lock(path: Path | None, ctx: distributed.Context) -> Iterator[None]:
    """Hold `path`'s lock file (``<checkpoint>.lock``) while this process loads or trains that checkpoint, so that
    two notebooks asking for the same model at once train it once: the second waits, then loads the first's. A
    no-op without a path, and under several processes (their ranks train one model together)."""
    if path is None or ctx.distributed or fcntl is None:
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "a") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"Another process is training {path.name}: waiting for it, then loading its checkpoint.",
                  flush=True)
            fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def load_or_train(path: Path | None, ctx: distributed.Context, load: Callable[[], TrainResult | None],
                  train: Callable[[], TrainResult]) -> TrainResult:
    """`load()` (the cached result at `path`, or None) or else `train()`, under `cache_lock(path, ctx)`."""
    with cache_lock(path, ctx):
        cached = load()
        return cached if cached is not None else train()


def load_cached(path: Path | None, load: Callable[[Path], torch.nn.Module], model_name: str,
                tokenizer: Any = None) -> TrainResult | None:
    """The TrainResult of a finished checkpoint at `path` (`load(path)` builds the model), or None when there
    is none; an unusable one is reported and ignored, so the caller retrains and overwrites it."""
    if path is None or not path.exists():
        return None
    try:
        info = checkpoint_info(path)
        net = load(path)
    except ValueError as e:
        print(f"Ignoring unusable cached checkpoint: {e}")
        return None
    precision = info.get("precision")
    print(f"Loaded cached checkpoint {path} (trained in {info.get('train_seconds', 0):.0f} s"
          + (f", {precision})." if precision else ")."))
    return TrainResult(net, tokenizer, model_name, path, info.get("history", {}), info.get("train_seconds", 0.0),
                       info.get("samples_seen", 0), loaded=True, evaluations=info.get("evaluations", {}),
                       precision=precision)


def _rng_state(gen: torch.Generator, order: torch.Tensor | None) -> dict[str, Any]:
    np_state = np.random.get_state()
    return {"generator": gen.get_state(), "torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
            "numpy_keys": torch.from_numpy(np_state[1].astype(np.int64)),
            "numpy_rest": [int(np_state[2]), int(np_state[3]), float(np_state[4])],
            "python": repr(random.getstate()),
            "order": order.cpu() if order is not None else None}


def _set_rng_state(state: dict[str, Any], gen: torch.Generator) -> torch.Tensor | None:
    gen.set_state(state["generator"])
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    np.random.set_state(("MT19937", state["numpy_keys"].numpy().astype(np.uint32), *state["numpy_rest"]))
    random.setstate(ast.literal_eval(state["python"]))
    order = state["order"]
    return None if order is None else order.to(gen.device)


def _save_state(path: Path, key: str, step: int, method: Method, optimizer, scheduler, gen, order, history,
                evaluations, seconds: float) -> None:
    state = {"format": _STATE_FORMAT, "key": key, "step": step, "seconds": seconds,
             "model": {k: v.detach().cpu() for k, v in method.model.state_dict().items()},
             "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
             "rng": _rng_state(gen, order), "history": history, "evaluations": evaluations}
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def _load_state(path: Path, key: str) -> dict[str, Any] | None:
    """A resumable state of this very run (same key), loaded without unpickling arbitrary objects; None when there
    is none or it is unusable (reported)."""
    if not path.is_file():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        if state.get("format") != _STATE_FORMAT or state.get("key") != key:
            raise ValueError("it belongs to another run")
        return state
    except Exception as e:  # a cut-short or foreign file must not stop a run: it starts over instead
        print(f"Ignoring unusable resume state {path}: {str(e).splitlines()[0] if str(e) else type(e).__name__}")
        return None


def _revert_sync_batchnorm(module: torch.nn.Module) -> torch.nn.Module:
    """SyncBatchNorm layers (DDP on GPUs) back to BatchNorm2d with the same weights and statistics."""
    if isinstance(module, torch.nn.SyncBatchNorm):
        plain = torch.nn.BatchNorm2d(module.num_features, module.eps, module.momentum, module.affine,
                                     module.track_running_stats).to(module.weight.device)
        plain.load_state_dict(module.state_dict())
        return plain
    for name, child in module.named_children():
        setattr(module, name, _revert_sync_batchnorm(child))
    return module


# --------------------------------------------------------------------------- the loop
def start(images: np.ndarray | torch.Tensor, batch_size: int, lr: float, warmup: float, weight_decay: float,
          compile: bool, device: str | torch.device, unit: str = "images") -> tuple[distributed.Context, torch.Tensor]:
    """The checks every trainer shares, then this process's place in the job (under torchrun: its rank and
    device) and the data as uint8 (N, 3, H, W)."""
    check_positive("batch_size", batch_size)
    check_schedule(lr, warmup, weight_decay)
    check_choice("compile", compile, (False, True))
    ctx = distributed.setup(device)
    distributed.check_divisible("batch_size", batch_size, ctx)
    x_all = images_to_tensor(images)
    if batch_size > len(x_all):
        raise ValueError(f"batch_size={batch_size} is not allowed: it must be at most the {len(x_all)} training "
                         f"{unit}.")
    return ctx, x_all


def on_device(ctx: distributed.Context, *tensors: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """The training data where the loop reads it: on a GPU the whole uint8 corpus lives there (the loop never
    waits on data); elsewhere it stays where it is."""
    return tuple(t.to(ctx.device) for t in tensors) if ctx.device.type == "cuda" else tensors


def fit(
    method: Method,
    *,
    n: int,
    steps: int,
    batch_size: int,
    lr: float,
    weight_decay: float,
    warmup: float,
    seed: int,
    ctx: distributed.Context,
    data_device: torch.device,
    checkpoint: Path | None = None,
    metadata: dict[str, Any] | None = None,
    compile: bool = False,
    progress: bool = True,
    log_every: int = 1,
    eval_at: Sequence[int] = (),
    resume_seconds: float | None = DEFAULT_RESUME_SECONDS,
    resume_steps: int | None = None,
    grad_clip_norm: float | None = None,
) -> TrainResult:
    """Train `method` for `steps` steps of `batch_size` samples drawn from `n` (a new permutation every n //
    batch_size steps), then write `checkpoint` (with `metadata`) when one is given.

    With a `checkpoint`, a resumable state is written beside it every `resume_seconds` seconds and/or every
    `resume_steps` steps (None: not on that criterion); a run with the same checkpoint name starts from it.
    `eval_at`: step counts (1 = after the first step) at which `method.evaluate()` is recorded.
    `grad_clip_norm`: scale the gradients down to this global L2 norm where it is larger (as open_clip_train's
    ``--grad-clip-norm``); the norm before clipping is then logged as "grad_norm". None: no clipping."""
    check_positive("steps", steps)
    if grad_clip_norm is not None:
        check_positive("grad_clip_norm", grad_clip_norm, integer=False)
    check_positive("log_every", log_every)
    for name, every in (("resume_seconds", resume_seconds), ("resume_steps", resume_steps)):
        if every is not None:
            check_positive(name, every, integer=name == "resume_steps")
    model, dev = method.model, ctx.device
    model.train()
    optimizer, scheduler = optimizer_and_schedule(model, lr, weight_decay, steps, warmup, method.betas, method.eps)
    gen = torch.Generator(device=data_device).manual_seed(seed)
    steps_per_epoch = n // batch_size
    order: torch.Tensor | None = None
    first, before, evaluations, elapsed = 0, {}, {}, 0.0

    state_file = resume_path(checkpoint) if checkpoint is not None else None
    key = checkpoint.stem if checkpoint is not None else ""
    state = _load_state(state_file, key) if state_file is not None else None
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        order = _set_rng_state(state["rng"], gen)
        first, before, evaluations, elapsed = state["step"], state["history"], state["evaluations"], state["seconds"]
        if ctx.is_main:
            print(f"Resuming {method.name} from step {first} of {steps} ({state_file}, {elapsed:.0f} s trained "
                  "before).")

    if ctx.distributed and dev.type == "cuda":
        # batch statistics over the global batch, as one process would have them (torch has no CPU version)
        model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
        method.model = model
    net = distributed.wrap(model, ctx)
    net = torch.compile(net) if compile else net  # the plain model is what is updated and saved
    amp, precision = training_autocast(method, n, batch_size, ctx, data_device)
    evaluate_at = set(int(s) for s in eval_at)

    start_time = time.perf_counter()
    last_save = start_time
    bar = tqdm(total=steps, initial=first, desc=f"train {method.name}", unit="step",
               disable=not (progress and ctx.is_main), mininterval=2.0)
    log = StepLog(ctx, bar, offset=elapsed)

    def trained_seconds() -> float:  # since the first run started, evaluations left out
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)
        return elapsed + time.perf_counter() - start_time - log.paused

    def save_state(done: int) -> None:
        seconds = trained_seconds()
        _save_state(state_file, key, done, method, optimizer, scheduler, gen, order,
                    _join(before, log.history(reduce=False)), evaluations, seconds)

    for step in range(first, steps):
        b = step % steps_per_epoch
        if b == 0 or order is None:
            order = torch.randperm(n, generator=gen, device=data_device)
        with amp:
            loss, values = method.loss(net, order[b * batch_size:(b + 1) * batch_size], gen)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if grad_clip_norm is not None:
            values = {**values, "grad_norm": torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip_norm)}
        optimizer.step()
        scheduler.step()
        method.after_step()
        if step % log_every == 0 or step == steps - 1:
            log.add(step, optimizer.param_groups[0]["lr"], loss=loss, **values)
        done = step + 1
        if method.evaluate is not None and done in evaluate_at:
            at = trained_seconds()
            model.eval()
            with amp, torch.no_grad():
                scores = method.evaluate()
            model.train()
            log.paused += trained_seconds() - at
            for name, value in {"step": done, "samples": done * batch_size, "seconds": at, **scores}.items():
                evaluations.setdefault(name, []).append(value)
        bar.update(1)
        now = time.perf_counter()
        due = ((resume_seconds is not None and now - last_save >= resume_seconds)
               or (resume_steps is not None and done % resume_steps == 0))
        if state_file is not None and ctx.is_main and done < steps and due:
            save_state(done)
            last_save = time.perf_counter()
    bar.close()
    history = _join(before, log.history())
    seconds = trained_seconds()
    model = _revert_sync_batchnorm(model).to(memory_format=torch.contiguous_format).eval()

    saved = None
    if checkpoint is not None:
        if ctx.is_main:
            save_checkpoint(model, checkpoint, method.name,
                            {**(metadata or {}), "history": history, "evaluations": evaluations,
                             "train_seconds": seconds, "samples_seen": steps * batch_size, "n_train": n,
                             "world_size": ctx.world_size, "resumed_from": first or None, "precision": precision})
            state_file.unlink(missing_ok=True)
            print(f"Saved checkpoint {checkpoint}")
        distributed.barrier(ctx)
        saved = checkpoint
    return TrainResult(model, method.tokenizer, method.name, saved, history, seconds, steps * batch_size,
                       evaluations=evaluations, resumed_from=first or None, precision=precision)
