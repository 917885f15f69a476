#!/bin/bash
# End to end on a real GPU node: one-node Slurm with a gpu GRES (shared/tools/h200-slurm.sh), the auto_resume
# plugin and autoresumed built here, examples/pytorch_ddp/train.sbatch on the GPU (NCCL) with --auto-resume=1.
#   1. a baseline run, uninterrupted, gives the reference model hash;
#   2. the resumed run is interrupted twice: the agent's real NVML reading trips a check (GPU temperature limit
#      set below the GPU's actual temperature) and the agent drains its node (check --drain); later an admin's
#      Action:Replace. Each time: the controller requeues the job, the node is "replaced" (slurmd restarted) and
#      validated with the agent's real checks (normal limits), returned to service, and the job resumes from its
#      checkpoint on the GPU;
#   3. the final model hashes are compared, and the timeline is printed.
# The controller's node lifecycle (replace, validate in a reservation, return) is later work: here this script
# plays that part (slurmd restart, agent check, resume), in the order it will, and says so in the timeline.
# Needs: .h200/ with h200-slurm.sh, debs/ (its list plus libslurm-dev libsqlite3-dev libmunge-dev) and include/
# (nlohmann, CLI) as header-only libraries. Run from the project root as root: bash bench/h200_e2e.sh [OUTDIR]
set -euo pipefail
out=${1:-/tmp/h200-e2e}
mkdir -p "$out"
repo=$(pwd)
R=/opt/sr
D=${H200_DIR:-/tmp/h200-slurm}
t0=$(date +%s.%N)
say() { printf '%s  +%6.1fs  %s\n' "$(date +%T.%3N)" "$(awk "BEGIN{print $(date +%s.%N) - $t0}")" "$*" | tee -a "$out/timeline.txt"; }

mkdir -p $R $D
for d in .h200/debs/*.deb; do dpkg -x "$d" $R; done
say "build: plugin, controller, agent (Slurm 22.05 headers from Debian's packages)"
cmake -S . -B /tmp/b -DAUTORESUME_TESTS=OFF -DCMAKE_PREFIX_PATH=$R/usr -DAUTORESUME_EXTRA_INCLUDE=$repo/.h200/include \
  -DSQLite3_INCLUDE_DIR=$R/usr/include -DSQLite3_LIBRARY=/usr/lib/x86_64-linux-gnu/libsqlite3.so.0 >"$out/cmake.log"
cmake --build /tmp/b -j"$(nproc)" >"$out/build.log" 2>&1 || { tail -30 "$out/build.log"; exit 1; }

echo "required /tmp/b/spank_plugin/auto_resume.so" >$D/plugstack.conf
export H200_EXTRA_CONF="PlugStackConfig=$D/plugstack.conf"
source .h200/h200-slurm.sh >"$out/slurm-up.log" 2>&1
say "slurm up: $(sinfo -h -o '%N %T %G')"
cat >$D/autoresume.conf <<C
StateDir=$D/autoresume
PollInterval=500ms
C
/tmp/b/controller/autoresumed --foreground --config $D/autoresume.conf >"$out/autoresumed.log" 2>&1 &
ctl=$!
trap 'kill $ctl 2>/dev/null || true' EXIT

export TRAIN_PY=$repo/examples/pytorch_ddp/train.py PYTHON=${PYTHON:-python3}
args="--steps 400 --checkpoint-every 25 --step-seconds 0.05"
mkdir -p "$out/baseline" "$out/resumed"
state() { scontrol show job "$1" | grep -oE 'JobState=[A-Z]+' | cut -d= -f2; }
wait_for() { # wait_for SECONDS what command...
  local until=$(($(date +%s) + $1)) what=$2; shift 2
  until "$@"; do [ "$(date +%s)" -lt $until ] || { say "TIMEOUT waiting for $what"; return 1; }; sleep 0.2; done
}
is() { [ "$(state "$1")" = "$2" ]; }
ckpt_at_least() { python3 - "$1" "$2" <<'P'
import sys, torch
try: sys.exit(0 if torch.load(sys.argv[1], map_location="cpu")["step"] >= int(sys.argv[2]) else 1)
except Exception: sys.exit(1)
P
}

base=$(sbatch --parsable -N1 --ntasks-per-node=1 --gres=gpu:1 --auto-resume=0 -o "$out/baseline/out.log" \
  examples/pytorch_ddp/train.sbatch "$out/baseline" $args)
say "baseline job $base submitted (uninterrupted, GPU)"
wait_for 300 "baseline done" is "$base" COMPLETED
say "baseline done: $(grep -o 'sha256=[0-9a-f]*' "$out/baseline/out.log")"

job=$(sbatch --parsable -N1 --ntasks-per-node=1 --gres=gpu:1 -o "$out/resumed/out.log" \
  examples/pytorch_ddp/train.sbatch "$out/resumed" $args)
say "job $job submitted with --auto-resume=1 (in train.sbatch), --gres=gpu:1"

recover() { # recover FAULT-DESCRIPTION: wait for requeue, replace, validate, return, running again
  wait_for 60 "requeue" bash -c "scontrol show job $job | grep -q 'Restarts=$1'"
  say "controller requeued job $job ($(grep -c 'action=requeue ' "$out/autoresumed.log") requeue(s) in its journal log); job $(state "$job")"
  local pid; pid=$(cat $D/slurmd-g1.pid)
  kill "$pid"; while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
  slurmd -f $D/slurm.conf -N g1
  wait_for 10 "slurmd pid file" test -s $D/slurmd-g1.pid
  say "replace (stand-in for ReplaceProgram): slurmd of g1 restarted, pid $(cat $D/slurmd-g1.pid)"
  wait_for 30 "g1 registered" bash -c "scontrol show node g1 | grep -q 'SlurmdStartTime'"
  if /tmp/b/agent/autoresume-agent check --node g1 >"$out/validate-$1.txt"; then
    say "validate (stand-in for the validation job): autoresume-agent check, real NVML: healthy"
  else
    say "validate FAILED: $(grep fail "$out/validate-$1.txt")"; return 1
  fi
  scontrol update nodename=g1 state=resume
  say "node g1 returned to service"
  wait_for 60 "running again" is "$job" RUNNING
  say "job $job RUNNING again"
  wait_for 60 "attempt $1 started" grep -q "attempt=$1 nccl" "$out/resumed/out.log"
  say "job $job: $(grep "attempt=$1 nccl" "$out/resumed/out.log" | cut -d' ' -f2-)"
}

wait_for 120 "first checkpoint" ckpt_at_least "$out/resumed/ddp.ckpt" 50
temp=$(nvidia-smi --query-gpu=temperature.gpu --format=csv,noheader | head -1)
say "fault 1: GPU at ${temp} C; agent check with GpuTempMax=$((temp - 5)) C (below the real reading)"
if ! /tmp/b/agent/autoresume-agent check --drain --node g1 --gpu-temp-max $((temp - 5)) >"$out/fault-check.txt"; then
  say "agent verdict fail: $(tail -1 "$out/fault-check.txt")"
else
  say "agent check passed unexpectedly"; exit 1
fi
recover 1

wait_for 120 "a checkpoint after the first resume" ckpt_at_least "$out/resumed/ddp.ckpt" 200
scontrol update nodename=g1 state=fail reason=Action:Replace
say "fault 2: admin sets Action:Replace on g1"
recover 2

wait_for 300 "done" is "$job" COMPLETED
say "job $job done: $(grep -o 'sha256=[0-9a-f]*' "$out/resumed/out.log")"
a=$(grep -o 'sha256=[0-9a-f]*' "$out/baseline/out.log"); b=$(grep -o 'sha256=[0-9a-f]*' "$out/resumed/out.log")
[ "$a" = "$b" ] && say "SAME MODEL: resumed twice = uninterrupted ($a)" || { say "DIFFERENT MODELS: $a vs $b"; exit 1; }
grep -E 'event=(node_failed|action|job_phase|job_resumed)' "$out/autoresumed.log" | cut -c12-23,24- >"$out/controller-events.txt" || true
cp "$out/baseline/out.log" "$out/baseline.log"; cp "$out/resumed/out.log" "$out/resumed.log"
