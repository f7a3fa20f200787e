#!/usr/bin/env bash
# Throwaway single-node Slurm cluster on localhost, for testing the
# contrib/slurm/ job-array workflow (tests/cluster/slurm_test.sh).
#
#   local_slurm.sh start STATE_DIR   start munged, slurmctld, slurmd; wait until
#                                    the node is idle; print the line
#                                    `export SLURM_CONF=STATE_DIR/etc/slurm.conf`
#                                    (also written to STATE_DIR/env.sh)
#   local_slurm.sh stop STATE_DIR    cancel this cluster's jobs, then stop exactly
#                                    the daemons that `start` recorded in
#                                    STATE_DIR/run/*.pid
#
# Needs Debian's packages: slurmctld slurmd slurm-client munge (bookworm: Slurm
# 22.05). Runs as root (SlurmUser=root), needs no systemd and no cgroups
# (proctrack/linuxproc, task/none, no accounting). Every config, key, socket,
# state, spool, log and pid file lives under STATE_DIR; nothing system-wide is
# read or written (clients find the cluster through SLURM_CONF). munged refuses
# a socket below a directory that is not searchable by all (o+x) or that others
# may write to without the sticky bit: put STATE_DIR under such a path (mktemp -d
# gives 0700: chmod 0755 it). Ports are
# picked free on 127.0.0.1 unless LOCAL_SLURM_CTLD_PORT / LOCAL_SLURM_SLURMD_PORT
# are set. LOCAL_SLURM_START_TIMEOUT (default 60 s) bounds the wait for the node.
set -euo pipefail

usage() { echo "usage: $0 start|stop STATE_DIR" >&2; exit 2; }
[[ $# -eq 2 ]] || usage
action=$1
state=$2
[[ -n "$state" ]] || usage
mkdir -p "$state"
state=$(cd "$state" && pwd -P)
[[ "$state" != / ]] || { echo "local_slurm: STATE_DIR must not be /" >&2; exit 2; }

conf="$state/etc/slurm.conf"
run="$state/run"
logs="$state/log"
node=ccnode
start_timeout=${LOCAL_SLURM_START_TIMEOUT:-60}

log() { echo "local_slurm: $*" >&2; }

# pid recorded by start, if that process is still alive
live_pid() {
  local f="$run/$1.pid" pid
  [[ -s "$f" ]] || return 1
  pid=$(<"$f")
  [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

stop_daemon() {
  local name=$1 pid i
  if pid=$(live_pid "$name"); then
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do          # up to 10 s
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
      log "$name (pid $pid) ignored SIGTERM; sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  rm -f "$run/$name.pid"
}

dump_logs() {
  local f
  for f in "$logs"/*; do
    [[ -f "$f" ]] || continue
    echo "----- $f (last 40 lines) -----" >&2
    tail -n 40 "$f" >&2 || true
  done
}

do_stop() {
  if [[ -f "$conf" ]] && live_pid slurmctld >/dev/null; then
    # Jobs' slurmstepd processes are not children of slurmd: end them through
    # Slurm before stopping the daemons, so that no job outlives the cluster.
    SLURM_CONF="$conf" timeout 10 scancel --quiet --user=root 2>/dev/null || true
    local i
    for ((i = 0; i < 50; i++)); do           # up to 5 s
      [[ -z "$(SLURM_CONF="$conf" timeout 5 squeue -h -o %i 2>/dev/null)" ]] && break
      sleep 0.1
    done
  fi
  stop_daemon slurmd
  stop_daemon slurmctld
  stop_daemon munged
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

do_start() {
  local tool
  for tool in munged munge unmunge slurmctld slurmd sinfo sbatch scontrol python3; do
    command -v "$tool" >/dev/null || {
      log "'$tool' not found; install Debian's packages: apt-get install -y slurmctld slurmd slurm-client munge"
      exit 1
    }
  done
  if [[ $(id -u) -ne 0 ]]; then
    log "must run as root (the test cluster runs jobs as root with SlurmUser=root)"
    exit 1
  fi
  local name
  for name in munged slurmctld slurmd; do
    if live_pid "$name" >/dev/null; then
      log "$name already running from $state (pid $(live_pid "$name")); run '$0 stop $state' first"
      exit 1
    fi
  done

  # Fresh state every start: a cluster of a previous run must not leak in.
  rm -rf "${state:?}/etc" "${state:?}/munge" "$run" "$logs" "${state:?}/ctld" "${state:?}/spool" "${state:?}/env.sh"
  # munged insists that every directory above its socket is searchable by all
  # and writable by no one but root; the key directory stays private.
  chmod 0755 "$state"
  mkdir -m 0755 "$state/etc" "$run" "$logs" "$state/ctld" "$state/spool"
  mkdir -m 0700 "$state/munge"

  # A start that fails half-way stops what it started.
  trap 'if [[ $? -ne 0 ]]; then do_stop; fi' EXIT

  # --- munge ---------------------------------------------------------------
  local key="$state/munge/munge.key" sock="$run/munge.socket"
  head -c 1024 /dev/urandom > "$key"
  chmod 0400 "$key"
  setsid munged --foreground --key-file="$key" --socket="$sock" \
    --pid-file="$run/munged.pidfile" --log-file="$logs/munged.log" \
    --seed-file="$state/munge/munged.seed" \
    </dev/null >>"$logs/munged.out" 2>&1 &
  echo $! > "$run/munged.pid"
  local i ok=
  for ((i = 0; i < 100; i++)); do
    if [[ -S "$sock" ]] && munge -n -S "$sock" 2>/dev/null | unmunge -S "$sock" >/dev/null 2>&1; then
      ok=1; break
    fi
    live_pid munged >/dev/null || break
    sleep 0.1
  done
  if [[ -z "$ok" ]]; then
    log "munged did not come up"
    dump_logs
    exit 1
  fi

  # --- slurm.conf ----------------------------------------------------------
  local ctld_port=${LOCAL_SLURM_CTLD_PORT:-$(free_port)}
  local slurmd_port=${LOCAL_SLURM_SLURMD_PORT:-$(free_port)}
  while [[ -z "${LOCAL_SLURM_SLURMD_PORT:-}" && "$slurmd_port" == "$ctld_port" ]]; do
    slurmd_port=$(free_port)
  done
  local host cpus
  host=$(hostname -s)
  cpus=$(nproc)
  cat > "$conf" <<EOF
# Generated by tests/cluster/local_slurm.sh: a throwaway single-node test cluster.
ClusterName=cctest
SlurmctldHost=${host}(127.0.0.1)
SlurmctldPort=${ctld_port}
SlurmdPort=${slurmd_port}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=${sock}
StateSaveLocation=${state}/ctld
SlurmdSpoolDir=${state}/spool
SlurmctldPidFile=${run}/slurmctld.pidfile
SlurmdPidFile=${run}/slurmd.pidfile
SlurmctldLogFile=${logs}/slurmctld.log
SlurmdLogFile=${logs}/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
PlugStackConfig=${state}/etc/plugstack.conf
MailProg=/bin/true
# No cgroups, no systemd, no accounting daemon: works inside a plain container.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SwitchType=switch/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
# Cancel a job whose dependency can never be satisfied (afterok on a failed job)
# instead of leaving it pending forever.
DependencyParameters=kill_invalid_depend
ReturnToService=2
SlurmdParameters=config_overrides
# Keep finished jobs visible to scontrol/squeue for 10 minutes (no sacct here).
MinJobAge=600
InactiveLimit=0
KillWait=5
SlurmctldTimeout=30
SlurmdTimeout=60
NodeName=${node} NodeHostname=${host} NodeAddr=127.0.0.1 CPUs=${cpus} State=UNKNOWN
PartitionName=debug Nodes=${node} Default=YES MaxTime=INFINITE State=UP
EOF
  : > "$state/etc/plugstack.conf"
  # Read only by cgroup plugins, which this config does not load; present so
  # that nothing falls back to /etc/slurm/cgroup.conf.
  cat > "$state/etc/cgroup.conf" <<EOF
CgroupPlugin=autodetect
IgnoreSystemd=yes
EOF
  echo "export SLURM_CONF=$conf" > "$state/env.sh"

  # --- slurmctld, slurmd ---------------------------------------------------
  SLURM_CONF="$conf" setsid slurmctld -D -i </dev/null >>"$logs/slurmctld.out" 2>&1 &
  echo $! > "$run/slurmctld.pid"
  SLURM_CONF="$conf" setsid slurmd -D -N "$node" </dev/null >>"$logs/slurmd.out" 2>&1 &
  echo $! > "$run/slurmd.pid"

  local deadline=$((SECONDS + start_timeout)) st=
  while ((SECONDS < deadline)); do
    for name in slurmctld slurmd; do
      if ! live_pid "$name" >/dev/null; then
        log "$name exited during start-up"
        dump_logs
        exit 1
      fi
    done
    st=$(SLURM_CONF="$conf" timeout 5 sinfo -h -N -n "$node" -o %T 2>/dev/null || true)
    if [[ "$st" == idle ]]; then
      log "cluster up in $state (node $node idle; slurmctld :$ctld_port, slurmd :$slurmd_port)"
      trap - EXIT
      echo "export SLURM_CONF=$conf"
      return 0
    fi
    sleep 0.5
  done
  log "timed out after ${start_timeout}s waiting for node $node to be idle (last state: '${st:-no answer}')"
  SLURM_CONF="$conf" timeout 5 scontrol show node "$node" >&2 2>/dev/null || true
  dump_logs
  exit 1
}

case "$action" in
  start) do_start ;;
  stop) do_stop ;;
  *) usage ;;
esac
