#!/usr/bin/env bash
# A real single-node SLURM: munged, slurmctld and slurmd started here with their own key,
# sockets, ports, state and logs under a temporary directory; slurm/petrel-cpu.sbatch submitted
# with `sbatch -n 2 --wait` on the demo inputs; its image must equal the single-process
# `petrel recon` image. Exits 77 (skipped) when slurmctld, slurmd, munged or sbatch are not
# installed (CI installs slurm-wlm and munge in .ci/run). Every wait is bounded; every daemon
# (and whatever the job left behind) is stopped by pid at the end, with SIGKILL after a grace
# period: a hung job step can make slurmd ignore SIGTERM.
# usage: cli_slurm.sh PETREL FIXTURES_DIR
set -u
PETREL=$(readlink -f "$1")
REPO=$(cd "$(dirname "$0")/.." && pwd)
for tool in munged slurmctld slurmd sbatch sinfo scontrol mpirun; do
  if ! command -v "$tool" > /dev/null 2>&1 && [ ! -x "/usr/sbin/$tool" ]; then
    echo "skipped: $tool is not installed (apt-get install slurm-wlm munge)"
    exit 77
  fi
done
if [ "$(id -u)" != 0 ]; then
  echo "skipped: starting munged/slurmd with SlurmUser=root needs root"
  exit 77
fi
PATH=$PATH:/usr/sbin

T=$(mktemp -d /tmp/petrel_slurm.XXXXXX)
chmod 700 "$T"
# marks every process this test starts (daemons, their job steps, the job): the cleanup
# kills exactly the processes whose environment carries it
TAG="PETREL_SLURM_TEST=$T"

pids_of_test() {
  local p
  for p in /proc/[0-9]*; do
    p=${p#/proc/}
    grep -qzxF "$TAG" "/proc/$p/environ" 2> /dev/null && echo "$p"
  done
}

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [ -f "$T/slurm.conf" ]; then
    timeout 10 scancel --full --quiet --user=root > /dev/null 2>&1
  fi
  local pids
  pids=$(pids_of_test)
  [ -n "$pids" ] && kill -TERM $pids 2> /dev/null
  for _ in $(seq 1 20); do
    pids=$(pids_of_test)
    [ -z "$pids" ] && break
    sleep 0.5
  done
  pids=$(pids_of_test)
  if [ -n "$pids" ]; then
    echo "cleanup: SIGKILL to $(echo $pids | wc -w) process(es) that ignored SIGTERM"
    kill -KILL $pids 2> /dev/null
  fi
  if [ $rc -ne 0 ] && [ $rc -ne 77 ]; then
    for log in slurmctld.log slurmd.log munged.log job.out; do
      [ -f "$T/$log" ] && { echo "---- $log (tail)"; tail -n 25 "$T/$log"; }
    done
  fi
  rm -rf "$T"
  exit $rc
}
trap cleanup EXIT
trap 'exit 1' INT TERM

fail() {
  echo "FAIL: $*"
  exit 1
}

# free TCP ports for slurmctld and slurmd (other sessions on the machine may run a SLURM)
read -r CTLD_PORT SLURMD_PORT < <(python3 -c '
import socket
s = [socket.socket() for _ in range(2)]
for x in s: x.bind(("127.0.0.1", 0))
print(*[x.getsockname()[1] for x in s])')
NCPU=$(nproc)

# munge: a fresh key, its own socket, pid, log and seed files
mkdir -p "$T/munge" && chmod 700 "$T/munge"
dd if=/dev/urandom of="$T/munge/munge.key" bs=1 count=1024 status=none
chmod 400 "$T/munge/munge.key"
SOCK=$T/munge/munge.socket
env "$TAG" munged --force --foreground --socket="$SOCK" --key-file="$T/munge/munge.key" \
  --pid-file="$T/munge/munged.pid" --log-file="$T/munged.log" --seed-file="$T/munge/seed" \
  > /dev/null 2>&1 &
for _ in $(seq 1 50); do [ -S "$SOCK" ] && break; sleep 0.2; done
[ -S "$SOCK" ] || fail "munged did not create its socket in 10 s"
echo "ok: munged up (socket $SOCK)"

mkdir -p "$T/state" "$T/spool"
cat > "$T/slurm.conf" << EOF
ClusterName=petreltest
SlurmctldHost=localhost
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$SOCK
StateSaveLocation=$T/state
SlurmdSpoolDir=$T/spool
SlurmctldPidFile=$T/slurmctld.pid
SlurmdPidFile=$T/slurmd.pid
SlurmctldLogFile=$T/slurmctld.log
SlurmdLogFile=$T/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/builtin
MpiDefault=none
ReturnToService=2
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
PlugStackConfig=$T/plugstack.conf
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$NCPU State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP OverSubscribe=YES
EOF
: > "$T/plugstack.conf"
export SLURM_CONF=$T/slurm.conf

env "$TAG" slurmctld -D -c -f "$SLURM_CONF" > "$T/slurmctld.stdout" 2>&1 &
env "$TAG" slurmd -D -N localhost -f "$SLURM_CONF" > "$T/slurmd.stdout" 2>&1 &

state=""
for _ in $(seq 1 60); do
  state=$(timeout 5 sinfo -h -n localhost -o %T 2> /dev/null | head -n 1)
  [ "$state" = idle ] && break
  sleep 1
done
[ "$state" = idle ] || fail "the node did not become idle in 60 s (state: '${state:-none}')"
echo "ok: slurmctld and slurmd up, node localhost idle with $NCPU CPU(s) (ports $CTLD_PORT, $SLURMD_PORT)"

# demo inputs, and the single-process reference
cd "$T"
export OMP_NUM_THREADS=1
timeout 120 "$PETREL" demo --quiet --counts 3e6 --iterations 2 --subsets 4 --out demo --save-data in \
  > demo.log 2>&1 || fail "petrel demo: $(tail -n 5 demo.log)"
timeout 120 "$PETREL" recon --config in/recon.json --output ref.nii.gz --quiet || fail "petrel recon (1 process)"

# the batch job: mpirun inside the allocation, 2 ranks
export PETREL=$PETREL PETREL_MPIRUN_FLAGS="--allow-run-as-root --oversubscribe"
env "$TAG" timeout 300 sbatch -n 2 --wait --chdir="$T" --output="$T/job.out" --job-name=petrel-cli-test \
  "$REPO/slurm/petrel-cpu.sbatch" "$T/in/recon.json" --output "$T/slurm.nii.gz" > sbatch.out 2>&1
rc=$?
cat sbatch.out
[ $rc -eq 124 ] && fail "sbatch --wait did not return in 300 s"
[ $rc -eq 0 ] || fail "the job failed (sbatch rc=$rc): $(tail -n 20 job.out 2> /dev/null)"
grep -q "layout: 2 rank(s)" job.out || fail "the job's log has no 2-rank layout line: $(head -n 5 job.out)"
echo "ok: sbatch -n 2 --wait slurm/petrel-cpu.sbatch ran 2 ranks ($(grep -o 'layout: [^;]*' job.out))"
"$PETREL" diff ref.nii.gz slurm.nii.gz --tol 1e-5 || fail "the SLURM job's image differs from 1 process"
echo "ok: SLURM 2-rank image == 1-process image"
echo "cli_slurm: all passed"
