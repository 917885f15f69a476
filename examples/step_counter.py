#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""A resumable job in miniature: counts steps, checkpoints atomically, resumes from its latest checkpoint.

Run one copy per task (srun); rank 0 (SLURM_PROCID=0) owns the checkpoint and the step log, the other ranks keep
step with it through a barrier in the shared directory (as a collective would in real training). The checkpoint is written to a temporary file, flushed to disk and renamed over the old one, so a
crash at any instant leaves either the old or the new checkpoint, never half of one. SIGTERM or SIGUSR1 (the
controller's pre-requeue signal) saves a checkpoint and exits. Each completed step is appended to the step log
with the attempt number (AUTO_RESUME_ATTEMPT), which is how the demo and the tests check that every step after
the last checkpoint was done again and nothing before it was.

Each rank reports its progress after every step and rank 0 its checkpoints (autoresume.progress, the one-file
helper installed with the agent): a rank that stops (a hang) stops every rank at the barrier, and the controller
requeues the job as hung after its hang timeout. Each rank's pid is in DIR/rankN.pid (the hang test stops one).

  step_counter.py --dir DIR --steps N [--step-seconds S] [--checkpoint-every K]
"""
import argparse
import json
import os
import signal
import sys
import time

try:
    import autoresume  # /usr/lib/python3/dist-packages, with the agent
except ImportError:  # from the source tree
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "job"))
    import autoresume


def save_checkpoint(path, step):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump({"step": step, "saved_at": time.time()}, f)
        f.flush()
        os.fsync(f.fileno())
    os.rename(tmp, path)


def load_checkpoint(path):
    try:
        with open(path) as f:
            return json.load(f)["step"]
    except FileNotFoundError:
        return 0


def barrier(directory, rank, ntasks, step, stop):
    """Like a collective in real training: no rank goes past `step` until every rank has reached it, so a dead
    peer stops progress (its last published step never moves) until the job is restarted. False when a stop
    signal came while waiting."""
    mine = os.path.join(directory, f"rank{rank}.step")
    with open(mine + ".tmp", "w") as f:
        f.write(str(step))
    os.rename(mine + ".tmp", mine)
    while True:
        behind = 0
        for r in range(ntasks):
            try:
                with open(os.path.join(directory, f"rank{r}.step")) as f:
                    behind += int(f.read() or 0) < step
            except (FileNotFoundError, ValueError):
                behind += 1
        if not behind:
            return True
        if stop:
            return False
        time.sleep(0.05)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--dir", required=True)
    p.add_argument("--steps", type=int, required=True)
    p.add_argument("--step-seconds", type=float, default=0.5)
    p.add_argument("--checkpoint-every", type=int, default=4)
    a = p.parse_args()

    rank = int(os.environ.get("SLURM_PROCID", "0"))
    ntasks = int(os.environ.get("SLURM_NTASKS", "1"))
    attempt = os.environ.get("AUTO_RESUME_ATTEMPT", "0")
    ckpt = os.path.join(a.dir, "counter.ckpt")
    log_path = os.path.join(a.dir, "steps.log")
    step = load_checkpoint(ckpt)
    with open(os.path.join(a.dir, f"rank{rank}.pid"), "w") as f:
        f.write(str(os.getpid()))
    if rank == 0:
        print(f"{time.strftime('%H:%M:%S')} attempt={attempt} resuming from step {step} of {a.steps}", flush=True)

    # A signal only asks; the checkpoint is taken between steps, where the step log and the step count agree
    # (Slurm's requeue sends SIGCONT then SIGTERM at once: a handler that saved mid-step would lose a step).
    stop = []

    def on_signal(signum, _frame):
        stop.append(signum)

    def stop_now():
        if rank == 0:
            save_checkpoint(ckpt, step)
            print(f"{time.strftime('%H:%M:%S')} signal {stop[0]}: checkpoint at step {step}, exiting", flush=True)
        sys.exit(0)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGUSR1, on_signal)

    while step < a.steps:
        time.sleep(a.step_seconds)
        if stop or not barrier(a.dir, rank, ntasks, step + 1, stop):
            stop_now()
        step += 1
        autoresume.progress(step)
        if rank != 0:
            continue
        with open(log_path, "a") as log:
            log.write(f"step {step} attempt {attempt}\n")
        if step % a.checkpoint_every == 0 or step == a.steps:
            save_checkpoint(ckpt, step)
            autoresume.progress(step, checkpoint=True)
    if rank == 0:
        print(f"{time.strftime('%H:%M:%S')} attempt={attempt} done: {step} steps", flush=True)


if __name__ == "__main__":
    main()
