#!/usr/bin/env bash
# A throwaway one-node SLURM cluster on this machine, for the slurm-marked tests.
#
#   bash tests/cluster/slurm_harness.sh up      # install, configure, start; wait until the node is idle
#   bash tests/cluster/slurm_harness.sh status  # daemons, sinfo, squeue
#   bash tests/cluster/slurm_harness.sh down    # stop what `up` started, remove the state directory
#
# Needs root (apt-get, daemons run as root) and Debian/Ubuntu packages slurm-wlm + munge.
# No systemd is assumed: munged, slurmctld and slurmd are started directly, with their own
# key, socket, config, state, spool, pid and log files under $QUADSGD_SLURM_DIR
# (default /tmp/quadsgd-slurm). The only file written outside it is the symlink
# /etc/slurm/slurm.conf -> $QUADSGD_SLURM_DIR/etc/slurm.conf, so that plain `sinfo`, `sbatch`
# and the jobs' own `srun` find the cluster (SLURM_CONF is honoured too; `down` removes the
# link only if it is ours). `up` is a no-op when the daemons are already running.
#
# Accounting: none (AccountingStorageType=accounting_storage/none, no slurmdbd). `sacct` then
# has no data, so the Snakemake executor must query job states with `squeue`, which sees
# finished jobs for MinJobAge seconds (set to 600 here); profiles/slurm/config.yaml selects
# `slurm-status-command: squeue` and `slurm-no-account: true` accordingly.
#
# Environment:
#   QUADSGD_SLURM_DIR      state directory (default /tmp/quadsgd-slurm)
#   QUADSGD_SLURM_TIMEOUT  seconds to wait for the node to become idle (default 60)
#   QUADSGD_SLURM_NO_INSTALL=1  skip apt-get/pip (packages already present)
set -euo pipefail

BASE=${QUADSGD_SLURM_DIR:-/tmp/quadsgd-slurm}
TIMEOUT=${QUADSGD_SLURM_TIMEOUT:-60}
CONF=$BASE/etc/slurm.conf
SYS_CONF=/etc/slurm/slurm.conf
MUNGE_SOCKET=$BASE/munge/munge.socket.2
NODE=$(hostname -s)

log() { printf '[slurm-harness] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

pid_alive() {  # pid_alive FILE: the pid recorded in FILE is a live (not zombie) process
    local pid stat
    [[ -s $1 ]] || return 1
    pid=$(cat "$1")
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    # Daemons are reparented to PID 1, which may not reap them here: a killed daemon can stay a
    # zombie that `kill -0` still reports alive, so read the state from /proc.
    stat=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1
    stat=${stat##*) }
    [[ ${stat%% *} != Z ]]
}

daemons_up() {
    pid_alive "$BASE/run/munged.pid" && pid_alive "$BASE/run/slurmctld.pid" \
        && pid_alive "$BASE/run/slurmd.pid"
}

install_packages() {
    if [[ ${QUADSGD_SLURM_NO_INSTALL:-0} == 1 ]]; then
        return
    fi
    local missing=()
    for cmd in munged mungekey slurmctld slurmd sinfo sbatch srun squeue; do
        command -v "$cmd" >/dev/null || missing+=("$cmd")
    done
    if ((${#missing[@]})); then
        log "installing slurm-wlm and munge (missing: ${missing[*]})"
        export DEBIAN_FRONTEND=noninteractive
        # The package scripts try to start services; without systemd that fails harmlessly.
        apt-get install -y -q slurm-wlm munge >"$BASE/log/apt.log" 2>&1 \
            || { apt-get update -q >>"$BASE/log/apt.log" 2>&1 \
                && apt-get install -y -q slurm-wlm munge >>"$BASE/log/apt.log" 2>&1; } \
            || die "apt-get install slurm-wlm munge failed; see $BASE/log/apt.log"
    fi
    if ! python3 -c 'import dask_jobqueue, snakemake_executor_plugin_slurm' 2>/dev/null; then
        log "installing dask-jobqueue and snakemake-executor-plugin-slurm"
        python3 -m pip install --quiet --disable-pip-version-check \
            "dask-jobqueue>=0.9" "snakemake-executor-plugin-slurm>=1.0" \
            || die "pip install dask-jobqueue snakemake-executor-plugin-slurm failed"
    fi
}

write_config() {
    local cpus mem_mb
    cpus=$(nproc)
    # RealMemory must not exceed what slurmd detects, or the node is drained ("Low RealMemory").
    mem_mb=$(free -m | awk '/^Mem:/ {print int($2 * 0.95)}')
    cat >"$CONF" <<EOF
# Written by tests/cluster/slurm_harness.sh: one node (this host), no accounting, no cgroups.
ClusterName=quadsgd
SlurmctldHost=$NODE(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$MUNGE_SOCKET
SlurmctldPort=${QUADSGD_SLURMCTLD_PORT:-6817}
SlurmdPort=${QUADSGD_SLURMD_PORT:-6818}
StateSaveLocation=$BASE/state
SlurmdSpoolDir=$BASE/spool
SlurmctldPidFile=$BASE/run/slurmctld.pid
SlurmdPidFile=$BASE/run/slurmd.pid
SlurmctldLogFile=$BASE/log/slurmctld.log
SlurmdLogFile=$BASE/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
MpiDefault=none
SwitchType=switch/none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=1024
ReturnToService=2
MinJobAge=600
KillWait=5
InactiveLimit=0
SlurmctldTimeout=30
SlurmdTimeout=30
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=debug Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
EOF
}

link_config() {
    # Slurm clients (sinfo, sbatch, the srun inside a job) read /etc/slurm/slurm.conf unless
    # SLURM_CONF is set; point it at ours unless someone else's config lives there.
    mkdir -p "$(dirname "$SYS_CONF")"
    if [[ -L $SYS_CONF || ! -e $SYS_CONF ]]; then
        ln -sfn "$CONF" "$SYS_CONF"
        echo "$SYS_CONF" >"$BASE/run/linked"
    else
        log "WARNING: $SYS_CONF exists and is not ours; export SLURM_CONF=$CONF to use this cluster"
    fi
}

start_munge() {
    if pid_alive "$BASE/run/munged.pid"; then
        return
    fi
    if [[ ! -s $BASE/munge/munge.key ]]; then
        mungekey --create --keyfile="$BASE/munge/munge.key" 2>/dev/null \
            || dd if=/dev/urandom of="$BASE/munge/munge.key" bs=1 count=1024 status=none
        chmod 0400 "$BASE/munge/munge.key"
    fi
    # --force: runs as root, and tolerates the sticky world-writable /tmp above the socket.
    munged --force --key-file="$BASE/munge/munge.key" --socket="$MUNGE_SOCKET" \
        --pid-file="$BASE/run/munged.pid" --log-file="$BASE/log/munged.log" \
        --seed-file="$BASE/munge/munged.seed" \
        || die "munged did not start; see $BASE/log/munged.log"
    munge --socket="$MUNGE_SOCKET" -n | unmunge --socket="$MUNGE_SOCKET" >/dev/null \
        || die "munge round trip failed; see $BASE/log/munged.log"
}

wait_idle() {
    local deadline=$((SECONDS + TIMEOUT)) state=""
    while ((SECONDS < deadline)); do
        state=$(sinfo -h -N -n "$NODE" -o '%T' 2>/dev/null | head -n1 || true)
        case $state in
            idle | mixed | allocated) return 0 ;;
            drain* | down*)
                # A node left down by an earlier run: resume it once.
                scontrol update NodeName="$NODE" State=RESUME 2>/dev/null || true ;;
        esac
        sleep 1
    done
    log "node $NODE not idle after ${TIMEOUT}s (last sinfo state: '${state:-none}')"
    sinfo -N -l 2>&1 | sed 's/^/  /' >&2 || true
    log "--- tail of slurmctld.log"; tail -n 20 "$BASE/log/slurmctld.log" >&2 2>/dev/null || true
    log "--- tail of slurmd.log"; tail -n 20 "$BASE/log/slurmd.log" >&2 2>/dev/null || true
    die "SLURM did not come up within ${TIMEOUT}s (QUADSGD_SLURM_TIMEOUT)"
}

cmd_up() {
    [[ $(id -u) == 0 ]] || die "must run as root (apt-get, daemons as SlurmUser=root)"
    if daemons_up && sinfo -h >/dev/null 2>&1; then
        log "already up (state in $BASE)"
        return 0
    fi
    mkdir -p "$BASE"/{etc,state,spool,run,log,munge}
    chmod 0700 "$BASE/munge"
    install_packages
    write_config
    link_config
    start_munge
    export SLURM_CONF=$CONF
    if ! pid_alive "$BASE/run/slurmctld.pid"; then
        rm -f "$BASE/run/slurmctld.pid"
        slurmctld -f "$CONF" -i || die "slurmctld did not start; see $BASE/log/slurmctld.log"
    fi
    if ! pid_alive "$BASE/run/slurmd.pid"; then
        rm -f "$BASE/run/slurmd.pid"
        slurmd -f "$CONF" || die "slurmd did not start; see $BASE/log/slurmd.log"
    fi
    wait_idle
    log "up: node $NODE idle in partition debug (config $CONF)"
}

stop_pidfile() {  # stop_pidfile NAME: TERM the recorded pid, then KILL after 10 s
    local f=$BASE/run/$1.pid pid
    pid_alive "$f" || return 0
    pid=$(cat "$f")
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 50); do
        pid_alive "$f" || return 0
        sleep 0.2
    done
    log "$1 (pid $pid) ignored SIGTERM; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
}

cmd_down() {
    if [[ ! -d $BASE ]]; then
        log "nothing to stop ($BASE does not exist)"
        return 0
    fi
    if [[ -f $CONF ]] && pid_alive "$BASE/run/slurmctld.pid"; then
        SLURM_CONF=$CONF scancel --quiet --partition=debug 2>/dev/null || true
    fi
    stop_pidfile slurmd
    stop_pidfile slurmctld
    stop_pidfile munged
    if [[ -L $SYS_CONF && $(readlink "$SYS_CONF") == "$CONF" ]]; then
        rm -f "$SYS_CONF"
    fi
    rm -rf "$BASE"
    log "down: daemons stopped, $BASE removed"
}

cmd_status() {
    local rc=0 name
    for name in munged slurmctld slurmd; do
        if pid_alive "$BASE/run/$name.pid"; then
            echo "$name: running (pid $(cat "$BASE/run/$name.pid"))"
        else
            echo "$name: not running"
            rc=1
        fi
    done
    if ((rc == 0)); then
        SLURM_CONF=$CONF sinfo -N -l || rc=1
        SLURM_CONF=$CONF squeue || rc=1
    fi
    echo "config: $CONF"
    return $rc
}

case ${1:-} in
    up) cmd_up ;;
    down) cmd_down ;;
    status) cmd_status ;;
    *) echo "usage: $0 {up|down|status}" >&2; exit 2 ;;
esac
