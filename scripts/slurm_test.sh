#!/bin/bash
# make slurm-test: a real one-node Slurm on this machine (munged, slurmctld and slurmd on the
# loopback address), examples/slurm/calibrate.sbatch submitted as an array of 3 over the bundled
# calibration images, and the merged artifact compared byte for byte with a single-machine
# compile; the job logs must show progress lines. Everything lives in a temporary folder; the
# daemons it started are stopped at the end.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${BIN:-$ROOT/.build/release}
MODEL=$ROOT/examples/models/dinov2_vits14_224.fp16.safetensors
IMAGES=$ROOT/examples/images/calib
WORK=$(mktemp -d /tmp/eamc-slurm.XXXXXX)
HOST=$(hostname -s)
export SLURM_CONF=$WORK/slurm.conf
PIDS=()

cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  sleep 1
  for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  PIDS=()
}
trap cleanup EXIT

mkdir -p "$WORK"/{state,spool,munge,log,out}
chmod 700 "$WORK/munge"
# munge: a fresh key and socket of our own, so nothing of the machine's is touched.
dd if=/dev/urandom of="$WORK/munge/munge.key" bs=1024 count=1 status=none
chmod 400 "$WORK/munge/munge.key"
MUNGE_SOCKET=$WORK/munge/munge.socket
munged --key-file="$WORK/munge/munge.key" --socket="$MUNGE_SOCKET" --pid-file="$WORK/munge/munged.pid" \
  --log-file="$WORK/log/munged.log" --seed-file="$WORK/munge/seed" --force --foreground \
  > "$WORK/log/munged.stdout" 2>&1 &
PIDS+=($!)
for _ in $(seq 50); do [ -S "$MUNGE_SOCKET" ] && break; sleep 0.1; done

CPUS=$(nproc)
cat > "$SLURM_CONF" <<CONF
ClusterName=eamc-test
SlurmctldHost=$HOST(127.0.0.1)
SlurmctldPort=16817
SlurmdPort=16818
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$MUNGE_SOCKET
CredType=cred/munge
StateSaveLocation=$WORK/state
SlurmdSpoolDir=$WORK/spool
SlurmctldPidFile=$WORK/slurmctld.pid
SlurmdPidFile=$WORK/slurmd.pid
SlurmctldLogFile=$WORK/log/slurmctld.log
SlurmdLogFile=$WORK/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
MpiDefault=none
ReturnToService=2
SlurmctldTimeout=30
SlurmdTimeout=30
NodeName=$HOST NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=8000 State=UNKNOWN
PartitionName=test Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
CONF

slurmctld -D -f "$SLURM_CONF" > "$WORK/log/slurmctld.stdout" 2>&1 &
PIDS+=($!)
sleep 2
slurmd -D -f "$SLURM_CONF" -N "$HOST" > "$WORK/log/slurmd.stdout" 2>&1 &
PIDS+=($!)
for _ in $(seq 60); do
  sinfo -h -o %T 2>/dev/null | grep -qE '^(idle|mixed|allocated)' && break
  sleep 1
done
sinfo -h -o "%N %T %c" || { cat "$WORK"/log/*; exit 1; }

OUT=$WORK/out
cd "$WORK"
echo "submitting examples/slurm/calibrate.sbatch as an array of 3"
JOB=$(sbatch --parsable --array=1-3 --cpus-per-task=1 --mem=1G --output="$WORK/log/slurm-%A_%a.out" \
  --export=ALL,PATH="$BIN:$PATH",MODEL="$MODEL",IMAGES="$IMAGES",OUT="$OUT",COMPILE_CPUS=1,COMPILE_MEM=1G \
  "$ROOT/examples/slurm/calibrate.sbatch")
echo "array job $JOB"
# Wait for the array and the compile job it submits (at most 10 minutes).
for _ in $(seq 600); do
  [ -f "$OUT/model.eam" ] && [ -z "$(squeue -h 2>/dev/null)" ] && break
  sleep 1
done
squeue || true
for f in "$WORK"/log/slurm-*.out "$OUT"/compile-*.out; do echo "== $f"; cat "$f"; done
[ -f "$OUT/model.eam" ] || { echo "FAIL: no merged artifact"; tail -20 "$WORK"/log/slurmctld.log "$WORK"/log/slurmd.log; exit 1; }

echo "single-machine compile for comparison"
"$BIN/eamc" compile "$MODEL" -o "$WORK/single.eam" --calib "$IMAGES" --sparsity 0.2 --attn-bits 2 -q
passed=0 failed=0
check() { if "$@"; then passed=$((passed + 1)); else echo "FAIL: $*"; failed=$((failed + 1)); fi; }
check cmp "$OUT/model.eam" "$WORK/single.eam"
for i in 1 2 3; do
  check grep -q "^calibrating: .* images in .* images/s" "$WORK/log/slurm-${JOB}_$i.out"
  # The configuration comes first in the log, before the progress lines.
  check test "$(head -1 "$WORK/log/slurm-${JOB}_$i.out" | cut -c1-16)" = "eamc calibrate: "
done
check grep -q "^wrote $OUT/model.eam" "$OUT"/compile-*.out
echo "slurm test: $passed passed, $failed failed"
[ "$failed" = 0 ] || { echo "kept $WORK for a look"; exit 1; }
cleanup
rm -rf "$WORK"
