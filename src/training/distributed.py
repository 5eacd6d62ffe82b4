"""Data-parallel training with PyTorch's own engine: torchrun starts the processes, DDP syncs them.

`train` (and the learning loop's fine-tuning, which shares `trainer.train_model`) runs unchanged
in one process or under torchrun::

    torchrun --nproc_per_node 2 -m brandpulse.training.train --data ... --out ...   # 2 CPU processes
    torchrun --nproc_per_node 8 -m brandpulse.training.train --device cuda ...      # 8 GPUs
    torchrun --nnodes 2 --nproc_per_node 8 --rdzv_backend c10d \\
             --rdzv_endpoint head-node:29400 --rdzv_id brandpulse -m brandpulse.training.train ...

torchrun sets RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE and the rendezvous address in each
process's environment; `join` reads them (env:// initialisation) and picks the backend: gloo on
CPUs, NCCL on GPUs. Without them (a plain `train`) there is one process and nothing to sync.

How the processes share the work (docs/model_card.md, "Training on several processes"):
- every process draws the same epoch order (one seed), and `shard` gives each its interleaved
  share with `DistributedSampler`; with the global batch split evenly, the N slices of a step
  together are exactly the batch one process would take, and DDP averages their gradients, so
  N processes follow the optimisation of one (same steps, same learning-rate schedule);
- only rank 0 validates, keeps the best weights, logs and writes the checkpoint; whether to stop
  is decided there once per epoch and broadcast, so every rank leaves the loop at the same step.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch.utils.data.distributed import DistributedSampler

logger = logging.getLogger(__name__)

# What torchrun sets in every process it starts.
TORCHRUN_VARIABLES = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE")


@dataclass(frozen=True)
class ProcessGroup:
    """This process's place among the training processes (one process: rank 0 of 1)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    local_world_size: int = 1  # processes on this host (they share its CPUs)
    backend: str | None = None  # "gloo" or "nccl"; None when there is one process

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Rank 0: the process that validates, logs and writes."""
        return self.rank == 0

    def record(self) -> dict[str, object]:
        """What the checkpoint's training record says of it."""
        return {"world_size": self.world_size, "backend": self.backend}


SINGLE_PROCESS = ProcessGroup()


def backend_for(device: str) -> str:
    """NCCL between GPUs, gloo between CPU processes."""
    return "nccl" if device.startswith("cuda") else "gloo"


def join(device: str) -> ProcessGroup:
    """Join the process group torchrun prepared, or stay one process when it did not start this one.

    On GPUs each process takes the GPU of its local rank, so `device` "cuda" means that GPU.
    """
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return SINGLE_PROCESS
    missing = [name for name in TORCHRUN_VARIABLES if name not in os.environ]
    if missing:
        raise RuntimeError(
            f"WORLD_SIZE is set but not {', '.join(missing)}: start the processes with torchrun"
        )
    local_rank = int(os.environ["LOCAL_RANK"])
    backend = backend_for(device)
    if backend == "nccl":
        torch.cuda.set_device(local_rank)
    if not dist.is_initialized():
        dist.init_process_group(backend=backend)  # env://: the address torchrun's rendezvous gave
    group = ProcessGroup(
        rank=dist.get_rank(),
        world_size=dist.get_world_size(),
        local_rank=local_rank,
        local_world_size=int(os.environ["LOCAL_WORLD_SIZE"]),
        backend=backend,
    )
    logger.info("process %d of %d (%s)", group.rank, group.world_size, backend)
    return group


def leave(group: ProcessGroup) -> None:
    """Tear the process group down (every rank, once the work is done)."""
    if group.distributed and dist.is_initialized():
        dist.destroy_process_group()


def current() -> ProcessGroup:
    """The process group this process has joined (`join`), or one process."""
    if not dist.is_available() or not dist.is_initialized() or dist.get_world_size() == 1:
        return SINGLE_PROCESS
    return ProcessGroup(
        rank=dist.get_rank(),
        world_size=dist.get_world_size(),
        local_rank=int(os.environ.get("LOCAL_RANK", "0")),
        local_world_size=int(os.environ.get("LOCAL_WORLD_SIZE", "1")),
        backend=dist.get_backend(),
    )


def shard(order: torch.Tensor, group: ProcessGroup) -> torch.Tensor:
    """This rank's share of an epoch's row order: every `world_size`-th row from its rank on.

    `DistributedSampler` (no shuffling: the order is already drawn, the same on every rank) pads
    the order by repeating its first rows until it divides evenly, so every rank takes as many
    steps. One process keeps the whole order.
    """
    if not group.distributed:
        return order
    positions = DistributedSampler(
        range(len(order)), num_replicas=group.world_size, rank=group.rank, shuffle=False
    )
    return order[torch.as_tensor(list(positions), dtype=torch.long)]


def per_process_batch(batch_size: int, group: ProcessGroup) -> int:
    """The rows each process takes per step, so that together they take `batch_size`."""
    if batch_size % group.world_size:
        logger.warning(
            "batch size %d does not divide among %d processes: each takes %d rows a step",
            batch_size,
            group.world_size,
            max(1, batch_size // group.world_size),
        )
    return max(1, batch_size // group.world_size)


def agree(decision: bool, group: ProcessGroup) -> bool:
    """Rank 0's decision, on every rank (a no-op for one process)."""
    if not group.distributed:
        return decision
    device = (
        torch.device("cuda", torch.cuda.current_device()) if group.backend == "nccl" else torch.device("cpu")
    )
    flag = torch.tensor([int(decision)], device=device)
    dist.broadcast(flag, src=0)
    return bool(flag.item())


def wrap(model: torch.nn.Module, group: ProcessGroup) -> torch.nn.Module:
    """The module the training steps call: DDP around `model` when there are several processes.

    DDP averages the gradients across processes in `backward` and, before each forward, gives every
    rank rank 0's batch-norm statistics (`broadcast_buffers`). The optimiser keeps `model`'s
    parameters, which DDP shares.
    """
    if not group.distributed:
        return model
    from torch.nn.parallel import DistributedDataParallel

    device_ids = [group.local_rank] if group.backend == "nccl" else None
    return DistributedDataParallel(model, device_ids=device_ids)
