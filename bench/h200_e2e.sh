#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# End to end on a real GPU node, the whole product: one-node Slurm 22.05 with a gpu GRES (.h200/h200-slurm.sh, from
# carried Debian packages), the auto_resume plugin, autoresumed with its own node lifecycle (ReplaceProgram: a
# fresh slurmd for the node, standing in for the site's replacement; ValidationProgram: the validation suite
# autoresume-gpu-validate --quick, run by the controller as a job in its maintenance reservation holding the node's
# GPU), and autoresume-agent run on the node with real NVML (heartbeats, XID events, sustained temperature).
#   1. a baseline run of examples/pytorch_ddp on the GPU, uninterrupted: the reference model hash;
#   2. the same with --auto-resume=1, interrupted twice: (a) the agent's temperature limit set below the GPU's real
#      reading, so the agent drains its node (then an agent with normal limits takes over, as after a fix); (b) an
#      admin's Action:Replace. Each time the controller requeues the job and holds it (one node: no spare), replaces
#      the node, validates it with the suite on the GPU, returns it, and the job resumes from its checkpoint;
#   3. the model hashes compared; the timeline (fault -> running again, the validation's duration and figures).
# The binaries are built on Debian 12 (cmake -S . -B build-h200 -DCMAKE_BUILD_TYPE=Release -DAUTORESUME_TESTS=OFF)
# and run here with the carried Debian libraries (glibc 2.36 binaries on Ubuntu 24.04's 2.39).
# H200_GPUS=2 (the 2-GPU machine): the node gets Gres=gpu:2, the job one DDP rank per GPU (--gres=gpu:2), and
# before the runs one GPU's fault alone: GPU 1 heated by a matmul loop, the agent's limit between the two GPUs'
# readings; the drain reason and the agent's /metrics must name GPU 1 and not GPU 0.
# Needs: .h200/ with h200-slurm.sh and debs/ (its list plus libprometheus-cpp-core1.0 and libcpp-httplib0.11),
# build-h200/. Run from the project root as root: bash bench/h200_e2e.sh [OUTDIR]
set -euo pipefail
out=${1:-/tmp/h200-e2e}
mkdir -p "$out"
repo=$(pwd)
B=${H200_BUILD:-$repo/build-h200}
D=${H200_DIR:-/tmp/h200-slurm}
t0=$(date +%s.%N)
say() { printf '%s  +%6.1fs  %s\n' "$(date +%T.%3N)" "$(awk "BEGIN{print $(date +%s.%N) - $t0}")" "$*" | tee -a "$out/timeline.txt"; }
now() { date +%s.%N; }
since() { awk "BEGIN{printf \"%.1f\", $(now) - $1}"; }

mkdir -p $D
echo "required $B/spank_plugin/auto_resume.so" >$D/plugstack.conf
export H200_EXTRA_CONF="PlugStackConfig=$D/plugstack.conf"
source .h200/h200-slurm.sh >"$out/slurm-up.log" 2>&1
# The validation job runs with the system's PATH and libraries, and reports through scontrol: give it the carried
# one, and the carried libraries to every program (after the system's own).
ln -sf $R/usr/bin/scontrol /usr/bin/scontrol
printf '%s\n' $R/usr/lib/x86_64-linux-gnu/slurm-wlm $R/usr/lib/x86_64-linux-gnu >/etc/ld.so.conf.d/zz-h200-slurm.conf && ldconfig
GPUS=${H200_GPUS:-1}
if [ "$GPUS" -gt 1 ]; then  # h200-slurm.sh declares one GPU: the node gets all of them
  kill "$(cat $D/slurmd-g1.pid)" "$(cat $D/slurmctld.pid)"; sleep 2
  sed -i "s/Gres=gpu:1/Gres=gpu:$GPUS/" $D/slurm.conf
  echo "NodeName=g1 Name=gpu File=/dev/nvidia[0-$((GPUS - 1))]" >$D/gres.conf
  slurmctld -f $D/slurm.conf -i && slurmd -f $D/slurm.conf -N g1
  for i in $(seq 1 60); do sinfo -h -o %T | grep -q idle && break; sleep 0.5; done
fi
say "slurm up: $(sinfo -h -o '%N %T %G'); $(nvidia-smi -L | tr '\n' ' ')"

python=$(command -v python3)
cat >$D/replace-g1.sh <<S
#!/bin/sh
# Stand-in for the site's replacement program: the node comes back with a fresh slurmd.
export PATH=$PATH LD_LIBRARY_PATH=$LD_LIBRARY_PATH
pid=\$(cat $D/slurmd-\$1.pid 2>/dev/null) && kill "\$pid" 2>/dev/null && while kill -0 "\$pid" 2>/dev/null; do sleep 0.1; done
exec slurmd -f $D/slurm.conf -N "\$1"
S
chmod +x $D/replace-g1.sh
# The validation job's environment is PATH only: the carried libraries and the suite's log are given on its line.
cat >$D/autoresume.conf <<C
StateDir=$D/autoresume
PollInterval=500ms
ListenAddress=127.0.0.1:6828
SlurmUser=root
ReplaceProgram=$D/replace-g1.sh
ValidationProgram=/usr/bin/env LD_LIBRARY_PATH=$LD_LIBRARY_PATH $python $repo/agent/validate/autoresume-gpu-validate --quick --agent $B/agent/autoresume-agent
BreakerSettle=0s
C
$B/controller/autoresumed --check-config --config $D/autoresume.conf
$B/controller/autoresumed --foreground --config $D/autoresume.conf >"$out/autoresumed.log" 2>&1 &
ctl=$!
agent=""
start_agent() { # start_agent TEMP-MAX
  $B/agent/autoresume-agent run --node g1 --controller http://127.0.0.1:6828 --listen 127.0.0.1:6829 --interval 1 \
    --gpu-temp-max "$1" --gpu-temp-for 3 >>"$out/agent.log" 2>&1 &
  agent=$!
}
trap 'kill $ctl $agent 2>/dev/null || true' EXIT
start_agent 85
say "autoresumed (pid $ctl) and autoresume-agent run (pid $agent, real NVML, GPU temperature limit 85 C) started"

export TRAIN_PY=$repo/examples/pytorch_ddp/train.py PYTHON=$python
args="--steps 800 --checkpoint-every 25 --step-seconds 0.05"
work=/tmp/h200-e2e-work  # the jobs' directories (checkpoints): outside $out, which comes back
rm -rf "$work"; mkdir -p "$work/baseline" "$work/resumed"
state() { scontrol show job "$1" | grep -oE 'JobState=[A-Z]+' | cut -d= -f2; }
wait_for() { # wait_for SECONDS what command...
  local until=$(($(date +%s) + $1)) what=$2; shift 2
  until "$@"; do [ "$(date +%s)" -lt $until ] || { say "TIMEOUT waiting for $what"; tail -20 "$out/autoresumed.log"; return 1; }; sleep 0.2; done
}
is() { [ "$(state "$1")" = "$2" ]; }
ckpt_at_least() { "$python" - "$1" "$2" <<'P'
import sys, torch
try: sys.exit(0 if torch.load(sys.argv[1], map_location="cpu")["step"] >= int(sys.argv[2]) else 1)
except Exception: sys.exit(1)
P
}
node_event() { grep -c "event=$1 node=g1" "$out/autoresumed.log" || true; }

if [ "$GPUS" -gt 1 ] && [ "${H200_ONE_GPU_FAULT:-1}" = 1 ]; then
  "$python" -c "
import torch, time
a = torch.randn(8192, 8192, device='cuda:1', dtype=torch.bfloat16)
t = time.time()
while time.time() - t < 70: a @ a
torch.cuda.synchronize(1)" &
  heat=$!
  sleep 45
  temps=$(nvidia-smi --query-gpu=temperature.gpu --format=csv,noheader)
  g0=$(sed -n 1p <<<"$temps"); g1=$(sed -n 2p <<<"$temps")
  limit=$(( (g0 + g1) / 2 ))
  say "one GPU's fault: GPU 1 at $g1 C under a matmul loop, GPU 0 at $g0 C; agent limit $limit C"
  kill $agent; wait $agent 2>/dev/null || true
  start_agent "$limit"
  wait_for 60 "the agent's drain" bash -c "scontrol show node g1 | grep -q 'Reason=autoresume:'"
  kill $heat 2>/dev/null || true   # its job is done: the validation that follows gets GPU 1 to itself
  reason=$(scontrol show node g1 | grep -o 'Reason=.*' | cut -c1-100)
  say "agent drained g1: $reason"
  "$python" -c "import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:6829/metrics').read().decode())" | grep -E 'check="gpu[01]:temperature"|temperature_celsius' >"$out/gpu1-metrics.txt" || true
  say "agent /metrics: $(grep 'verdict="fail"' "$out/gpu1-metrics.txt" | tr '\n' ' ')"
  grep -q 'gpu1:temperature' <<<"$reason" && ! grep -q 'gpu0' <<<"$reason" || { say "the reason does not name GPU 1 alone"; exit 1; }
  grep -q 'check="gpu1:temperature".*verdict="fail"' "$out/gpu1-metrics.txt" &&
    ! grep -q 'check="gpu0:temperature".*verdict="fail"' "$out/gpu1-metrics.txt" || { say "/metrics does not name GPU 1 alone"; exit 1; }
  kill $agent; wait $agent 2>/dev/null || true
  start_agent 85
  wait $heat || true
  wait_for 300 "g1 back after the GPU 1 fault" bash -c "grep -q 'event=node_validated node=g1' '$out/autoresumed.log'"
  say "g1 replaced and validated with both GPUs (NCCL all-reduce included), back in service"
fi

base=$(sbatch --parsable -N1 --ntasks-per-node=$GPUS --gres=gpu:$GPUS --auto-resume=0 -o "$work/baseline/out.log" \
  examples/pytorch_ddp/train.sbatch "$work/baseline" $args)
say "baseline job $base submitted (uninterrupted, GPU)"
wait_for 300 "baseline done" is "$base" COMPLETED
say "baseline done: $(grep -o 'sha256=[0-9a-f]*' "$work/baseline/out.log")"

job=$(sbatch --parsable -N1 --ntasks-per-node=$GPUS --gres=gpu:$GPUS -o "$work/resumed/out.log" \
  examples/pytorch_ddp/train.sbatch "$work/resumed" $args)
say "job $job submitted with --auto-resume=1 (in train.sbatch), --gres=gpu:$GPUS, $GPUS DDP ranks"

recover() { # recover N FAULT-TIME: requeued and held, replaced, validated by the suite, returned, running again
  local n=$1 fault=$2 validated_before replaced_before
  validated_before=$(node_event node_validated); replaced_before=$(node_event node_replaced)
  wait_for 60 "requeue" bash -c "scontrol show job $job | grep -q 'Restarts=$n'"
  say "job $job requeued (Restarts=$n), $(state "$job"): $(scontrol show job "$job" | grep -oE 'Reason=[^ ]*')"
  wait_for 120 "replacement" bash -c "[ \$(grep -c 'event=node_replaced node=g1' '$out/autoresumed.log') -gt $replaced_before ]"
  say "g1 replaced: $(grep 'event=node_replaced node=g1' "$out/autoresumed.log" | tail -1 | grep -o 'detail="[^"]*"')"
  local vstart; vstart=$(now)
  wait_for 300 "validation" bash -c "[ \$(grep -c 'event=node_validated node=g1' '$out/autoresumed.log') -gt $validated_before ]"
  say "g1 validated by the suite in a GRES job in its reservation ($(since "$vstart") s after the replacement):" \
    "$(grep 'event=node_validated node=g1' "$out/autoresumed.log" | tail -1 | grep -o 'detail="[^"]*"')"
  wait_for 120 "running again" is "$job" RUNNING
  say "job $job RUNNING again: $(since "$fault") s after fault $n"
  wait_for 120 "attempt $n started" grep -q "attempt=$n nccl" "$work/resumed/out.log"
  say "job $job: $(grep "attempt=$n nccl" "$work/resumed/out.log" | cut -d' ' -f2-)"
}

wait_for 120 "first checkpoint" ckpt_at_least "$work/resumed/ddp.ckpt" 50
temp=$(nvidia-smi --query-gpu=temperature.gpu --format=csv,noheader -i 0)
kill $agent; wait $agent 2>/dev/null || true
fault1=$(now)
start_agent $((temp - 5))
say "fault 1: GPU at ${temp} C; agent restarted with a limit of $((temp - 5)) C (below the real reading), sustained 3 s"
wait_for 60 "the agent's drain" bash -c "scontrol show node g1 | grep -q 'Reason=autoresume:'"
say "agent drained g1: $(scontrol show node g1 | grep -o 'Reason=.*' | cut -c1-100)"
kill $agent; wait $agent 2>/dev/null || true
start_agent 85
say "agent back on normal limits (85 C), as after the site's fix"
recover 1 "$fault1"

wait_for 120 "a checkpoint after the first resume" ckpt_at_least "$work/resumed/ddp.ckpt" 300
fault2=$(now)
scontrol update nodename=g1 state=fail reason=Action:Replace
say "fault 2: admin sets Action:Replace on g1"
recover 2 "$fault2"

wait_for 300 "done" is "$job" COMPLETED
say "job $job done: $(grep -o 'sha256=[0-9a-f]*' "$work/resumed/out.log")"
a=$(grep -o 'sha256=[0-9a-f]*' "$work/baseline/out.log"); b=$(grep -o 'sha256=[0-9a-f]*' "$work/resumed/out.log")
[ "$a" = "$b" ] && say "SAME MODEL: resumed twice = uninterrupted ($a)" || { say "DIFFERENT MODELS: $a vs $b"; exit 1; }
grep -E 'event=(node_failed|node_phase|node_replaced|node_validated|action|job_phase)' "$out/autoresumed.log" \
  >"$out/controller-events.txt" || true
cp "$work/baseline/out.log" "$out/baseline.log"; cp "$work/resumed/out.log" "$out/resumed.log"
ls $D/autoresume/programs/ 2>/dev/null && cp $D/autoresume/programs/* "$out/" 2>/dev/null || true
# Each validation run's output as the controller kept it (StateDir/validation/g1/), oldest first.
for f in $(ls -tr $D/autoresume/validation/g1/* 2>/dev/null); do echo "== $f"; cat "$f"; done >"$out/validation.log"
