#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""A resumable PyTorch DDP training job: the pattern slurm-auto-resume relies on.

- One process per task (srun); NCCL on GPUs, gloo on CPU, chosen automatically.
- Deterministic: fixed seeds, and a data order that is a function of (seed, epoch) only, so an interrupted and
  resumed run ends with exactly the same model as an uninterrupted one.
- Rank 0 checkpoints every --checkpoint-every steps, atomically (write a .tmp, fsync, rename): model
  (model.module.state_dict()), optimizer, step, RNG states. Every rank loads the latest with a map_location for
  its own device.
- SIGTERM / SIGUSR1 (the controller's pre-requeue signal) ask for an emergency checkpoint: taken at the next step
  boundary, where the state is consistent, then the job exits.
- The log says which attempt this is (AUTO_RESUME_ATTEMPT); at the end rank 0 prints the model's SHA-256.
- Every rank reports each step, and rank 0 each finished checkpoint, with autoresume.progress (the one-file helper
  installed with the agent): a collective stuck on a broken peer is then seen as a hang and the job requeued, and
  `autoresumectl jobs JOBID` shows what failures cost it (goodput).

  srun python3 train.py --dir CHECKPOINT_DIR [--steps N] [--checkpoint-every K] [--step-seconds S]
"""
import argparse
import hashlib
import os
import signal
import sys
import time

# cuBLAS is deterministic only with a fixed workspace; set before CUDA starts.
os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")

try:
    import autoresume  # /usr/lib/python3/dist-packages, with the agent
except ImportError:  # from the source tree
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "job"))
    import autoresume  # noqa: E402

import torch  # noqa: E402
import torch.distributed as dist  # noqa: E402
import torch.nn as nn  # noqa: E402
from torch.nn.parallel import DistributedDataParallel as DDP  # noqa: E402

SAMPLES, FEATURES, BATCH = 512, 16, 32

stop_requested = False


def on_signal(signum, _frame):
    global stop_requested
    stop_requested = True


def log(rank, msg):
    if rank == 0:
        print(f"{time.strftime('%H:%M:%S')} attempt={os.environ.get('AUTO_RESUME_ATTEMPT', '0')} {msg}", flush=True)


def dataset():
    g = torch.Generator().manual_seed(1234)
    x = torch.randn(SAMPLES, FEATURES, generator=g)
    w = torch.randn(FEATURES, 1, generator=g)
    return x, x @ w + 0.1 * torch.randn(SAMPLES, 1, generator=g)


def batch_indices(step, rank, world):
    """This rank's sample indices for a global step: the epoch's permutation depends on the epoch alone."""
    per_epoch = SAMPLES // (BATCH * world)
    epoch, within = divmod(step, per_epoch)
    order = torch.randperm(SAMPLES, generator=torch.Generator().manual_seed(epoch))
    start = (within * world + rank) * BATCH
    return order[start:start + BATCH]


def model_sha256(model):
    h = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def save_checkpoint(path, model, optimizer, step):
    tmp = path + ".tmp"
    state = {"model": model.module.state_dict(), "optimizer": optimizer.state_dict(), "step": step,
             "torch_rng": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda_rng"] = torch.cuda.get_rng_state()
    torch.save(state, tmp)
    with open(tmp, "rb") as f:
        os.fsync(f.fileno())
    os.rename(tmp, path)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--dir", required=True)
    p.add_argument("--steps", type=int, default=60)
    p.add_argument("--checkpoint-every", type=int, default=10)
    p.add_argument("--step-seconds", type=float, default=0.0, help="simulated compute per step")
    a = p.parse_args()

    rank, world = int(os.environ["SLURM_PROCID"]), int(os.environ["SLURM_NTASKS"])
    cuda = torch.cuda.is_available()
    device = torch.device(f"cuda:{int(os.environ.get('SLURM_LOCALID', 0))}" if cuda else "cpu")
    if cuda:
        torch.cuda.set_device(device)
        torch.use_deterministic_algorithms(True)  # same model after a resume as without one, on GPU too
    dist.init_process_group("nccl" if cuda else "gloo", rank=rank, world_size=world)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGUSR1, on_signal)

    torch.manual_seed(0)
    model = DDP(nn.Sequential(nn.Linear(FEATURES, 32), nn.Tanh(), nn.Linear(32, 1)).to(device),
                device_ids=[device.index] if cuda else None)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    ckpt = os.path.join(a.dir, "ddp.ckpt")
    step = 0
    if os.path.exists(ckpt):
        state = torch.load(ckpt, map_location=device)
        model.module.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        torch.set_rng_state(state["torch_rng"].cpu())  # map_location moved it to the device; the CPU RNG needs it back
        if cuda and "cuda_rng" in state:
            torch.cuda.set_rng_state(state["cuda_rng"].cpu())
        step = state["step"]
    log(rank, f"{'gloo' if not cuda else 'nccl'} world={world} resuming at step {step} of {a.steps}")

    x, y = dataset()
    loss = torch.tensor(0.0)
    while step < a.steps:
        idx = batch_indices(step, rank, world)
        optimizer.zero_grad()
        loss = nn.functional.mse_loss(model(x[idx].to(device)), y[idx].to(device))
        loss.backward()
        optimizer.step()
        step += 1
        time.sleep(a.step_seconds)
        autoresume.progress(step)
        if rank == 0 and (step % a.checkpoint_every == 0 or step == a.steps):
            save_checkpoint(ckpt, model, optimizer, step)
            autoresume.progress(step, checkpoint=True)
        if stop_requested:
            if rank == 0:
                save_checkpoint(ckpt, model, optimizer, step)
                autoresume.progress(step, checkpoint=True)
            log(rank, f"signal: emergency checkpoint at step {step}, exiting")
            sys.exit(0)
    log(rank, f"done at step {step}: loss {loss.item():.6f} model sha256={model_sha256(model.module)}")
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
