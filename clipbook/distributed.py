"""Data-parallel training under torchrun: process-group set-up, batch sharding, averaged logging.

``torchrun --nproc_per_node N script.py`` starts N processes with RANK/WORLD_SIZE/LOCAL_RANK set;
clipbook's training functions then join the group, each take their share of every global batch, wrap
the model in DistributedDataParallel and gather negatives across ranks (open_clip's ``ClipLoss`` with
``local_loss`` and ``gather_with_grad``; lightly's ``NTXentLoss(gather_distributed=True)``), so a step
on N processes equals a step on one process with the same global batch. One process: nothing changes.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from .utils import resolve_device


@dataclass(frozen=True)
class Context:
    """This process's place in the job: its rank, the number of processes and its device."""

    rank: int
    world_size: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def setup(device: str | torch.device = "auto") -> Context:
    """Join the torchrun process group when WORLD_SIZE > 1 (nccl on CUDA, gloo on CPU) and pick this
    rank's device (cuda:LOCAL_RANK); otherwise resolve `device` as usual."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return Context(0, 1, resolve_device(device))
    dev = resolve_device(device)
    if dev.type == "cuda":
        dev = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(dev)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if dev.type == "cuda" else "gloo")
    return Context(dist.get_rank(), dist.get_world_size(), dev)


def check_divisible(name: str, batch_size: int, ctx: Context) -> None:
    """A global batch must split evenly across the processes."""
    if batch_size % ctx.world_size:
        raise ValueError(f"{name}={batch_size} is not allowed with {ctx.world_size} processes: it must be a "
                         f"multiple of {ctx.world_size}.")


def shard(batch: torch.Tensor, ctx: Context) -> torch.Tensor:
    """This rank's contiguous share of a global batch (the whole batch with one process)."""
    return batch if ctx.world_size == 1 else batch.view(ctx.world_size, -1, *batch.shape[1:])[ctx.rank]


def mean(value: torch.Tensor, ctx: Context) -> float:
    """The mean of a scalar over all processes (for logging: each rank's loss is its share's)."""
    if not ctx.distributed:
        return value.item()
    value = value.detach().clone()
    dist.all_reduce(value)
    return value.item() / ctx.world_size


def mean_tensor(values: torch.Tensor, ctx: Context) -> torch.Tensor:
    """Element-wise mean over all processes of a tensor (one collective for a whole history)."""
    if not ctx.distributed:
        return values
    values = values.detach().clone()
    dist.all_reduce(values)
    return values / ctx.world_size


def wrap(model: torch.nn.Module, ctx: Context) -> torch.nn.Module:
    """DistributedDataParallel around `model` in a distributed job, the model itself otherwise."""
    if not ctx.distributed:
        return model
    ids = [ctx.device.index] if ctx.device.type == "cuda" else None
    return torch.nn.parallel.DistributedDataParallel(model, device_ids=ids)


def barrier(ctx: Context) -> None:
    if ctx.distributed:
        dist.barrier()
