# SPDX-License-Identifier: GPL-2.0-or-later
"""Progress reports for slurm-auto-resume, from inside a training job. One file, no dependency.

    import autoresume
    for step in range(start, steps):
        train_one_step()
        autoresume.progress(step + 1)                    # after every step (cheap: one small file write)
        if (step + 1) % 100 == 0:
            save_checkpoint(step + 1)
            autoresume.progress(step + 1, checkpoint=True)  # once the checkpoint is on disk

A job that reports is watched for hangs: no report from any rank for the job's hang timeout
(--auto-resume-hang-timeout, or the site's default) and its nodes healthy, it is requeued and resumes from its
checkpoint. The reports also give the job's goodput (lost work, recovery time) in `autoresumectl jobs JOBID`.
Outside an auto-resume job (no AUTO_RESUME_PROGRESS_DIR) progress() does nothing. It never raises: a report
that cannot be written is skipped, the training goes on.

The format is the one the autoresume-progress command writes (docs/hangs-and-goodput.md): the file
$AUTO_RESUME_PROGRESS_DIR/rank-$SLURM_PROCID holds "STEP UNIXTIME", replaced whole; the file "checkpoint" likewise.
"""
import os
import time

__all__ = ["progress", "enabled"]

_MAX_STEP = 1 << 53


def enabled():
    """Whether this process runs in an auto-resume job that can report progress."""
    return bool(os.environ.get("AUTO_RESUME_PROGRESS_DIR"))


def _write(directory, name, step, at):
    path = os.path.join(directory, name)
    tmp = os.path.join(directory, f".{name}.{os.getpid()}.tmp")
    with open(tmp, "w") as f:
        f.write(f"{step} {at:.3f}\n")
    os.replace(tmp, path)


def progress(step, checkpoint=False):
    """Report that this rank finished `step` (an int >= 0); checkpoint=True: a checkpoint of `step` is saved.
    Returns True if the report was written."""
    directory = os.environ.get("AUTO_RESUME_PROGRESS_DIR")
    if not directory:
        return False
    step = int(step)
    if step < 0 or step > _MAX_STEP:
        raise ValueError(f"autoresume.progress: step {step} is outside 0..{_MAX_STEP}")
    rank = os.environ.get("SLURM_PROCID", "0")
    if not rank.isdigit() or len(rank) > 7:
        return False
    at = time.time()
    try:
        _write(directory, f"rank-{rank}", step, at)
        if checkpoint:
            _write(directory, "checkpoint", step, at)
    except OSError:
        return False
    return True
