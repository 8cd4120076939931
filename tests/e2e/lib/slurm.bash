# A real single-node Slurm cluster for the end-to-end tests: munged,
# slurmctld and slurmd on 127.0.0.1, all from files in the test's temp dir
# (its own key, socket, ports, state and spool directories, pid and log
# files), so it touches nothing of a system installation and two test runs
# on one machine do not meet.  Source it, then call slurm_start once; the
# cluster is stopped when the test exits, however it exits.
#
# A cluster that cannot start is a failure, not a skip: CI installs the
# packages (build.sh test), so a missing one is a broken machine.

: "${DROVE_ROOT:?DROVE_ROOT must point at the repository}"
. "$DROVE_ROOT/tests/e2e/lib.sh"

SLURM_DIR=$T/slurm
SLURM_NODE=$(hostname -s)
SLURM_PARTITION=debug

# slurm_stop: cancels every job and stops the daemons (TERM, then KILL
# after a bounded wait); each step on its own, so one that fails does
# not keep the others running
slurm_stop() {
	local f p i
	[ -d "$SLURM_DIR" ] || return 0
	# jobs first, while slurmd can still end their steps (KillWait=2)
	if [ -n "${SLURM_CONF:-}" ] && [ -s "$SLURM_DIR/slurmctld.pid" ]; then
		timeout 10 scancel --user="$(id -un)" 2>/dev/null
		for ((i = 0; i < 100; i++)); do
			[ -z "$(timeout 5 squeue -h 2>/dev/null)" ] && break
			sleep 0.1
		done
	fi
	for f in slurmd slurmctld munged; do
		p=$(cat "$SLURM_DIR/$f.pid" 2>/dev/null) || continue
		[ -n "$p" ] || continue
		kill "$p" 2>/dev/null
		for ((i = 0; i < 100; i++)); do
			kill -0 "$p" 2>/dev/null || break
			sleep 0.05
		done
		kill -9 "$p" 2>/dev/null
	done
	return 0
}
# the trap is the test's EXIT trap (lib.sh); a TERM from the test driver's
# timeout must run it too
cleanup_hooks+=(slurm_stop)
trap 'exit 143' TERM
trap 'exit 130' INT

slurm_free_ports() {
	python3 -c 'import socket
s = [socket.socket() for _ in range(2)]
for x in s: x.bind(("127.0.0.1", 0))
print(*[x.getsockname()[1] for x in s])'
}

# slurm_log: the tail of the daemons' logs, for a failure's report
slurm_log() {
	local f
	for f in munged slurmctld slurmd; do
		echo "--- $f.log:" >&2
		tail -n 15 "$SLURM_DIR/$f.log" >&2 2>/dev/null
	done
}

# slurm_start: writes the configuration, starts the daemons, waits until
# the node is idle; exports SLURM_CONF for every client (srun, squeue,
# drove's children).  Dies with the daemons' logs when anything is missing
# or does not come up within 30 s.
slurm_start() {
	local p pctld pd mem i
	for p in munged slurmctld slurmd srun sinfo squeue scancel scontrol; do
		command -v "$p" >/dev/null 2>&1 ||
		    PATH=$PATH:/usr/sbin command -v "$p" >/dev/null 2>&1 ||
		    die "$p is not installed (build.sh test installs slurmctld slurmd slurm-client munge)"
	done
	export PATH=$PATH:/usr/sbin
	[ "$(id -u)" = 0 ] || die "the Slurm suite runs its daemons as root"
	mkdir -p "$SLURM_DIR/state" "$SLURM_DIR/spool" || die "no $SLURM_DIR"
	chmod 700 "$SLURM_DIR"
	head -c 1024 /dev/urandom >"$SLURM_DIR/munge.key"
	chmod 600 "$SLURM_DIR/munge.key"
	# --force: the temp dir's parent is world-writable (sticky /tmp),
	# which munged refuses without it
	munged --force --socket="$SLURM_DIR/munge.sock" \
	    --key-file="$SLURM_DIR/munge.key" \
	    --log-file="$SLURM_DIR/munged.log" \
	    --pid-file="$SLURM_DIR/munged.pid" \
	    --seed-file="$SLURM_DIR/munged.seed" ||
	    { slurm_log; die "munged does not start"; }
	read -r pctld pd < <(slurm_free_ports)
	mem=$(awk '/^MemTotal/ { print int($2 / 1024) - 512 }' /proc/meminfo)
	cat >"$SLURM_DIR/slurm.conf" <<EOF
ClusterName=drovetest
SlurmctldHost=$SLURM_NODE(127.0.0.1)
SlurmctldPort=$pctld
SlurmdPort=$pd
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$SLURM_DIR/munge.sock
CredType=cred/munge
StateSaveLocation=$SLURM_DIR/state
SlurmdSpoolDir=$SLURM_DIR/spool
SlurmctldPidFile=$SLURM_DIR/slurmctld.pid
SlurmdPidFile=$SLURM_DIR/slurmd.pid
SlurmctldLogFile=$SLURM_DIR/slurmctld.log
SlurmdLogFile=$SLURM_DIR/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU_Memory
ReturnToService=2
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
KillWait=2
MinJobAge=600
DefMemPerCPU=64
NodeName=$SLURM_NODE NodeAddr=127.0.0.1 CPUs=2 RealMemory=$mem State=UNKNOWN
PartitionName=$SLURM_PARTITION Nodes=$SLURM_NODE Default=YES MaxTime=INFINITE State=UP
EOF
	export SLURM_CONF=$SLURM_DIR/slurm.conf
	slurmctld -f "$SLURM_CONF" || { slurm_log; die "slurmctld does not start"; }
	slurmd -f "$SLURM_CONF" || { slurm_log; die "slurmd does not start"; }
	for ((i = 0; i < 300; i++)); do
		case $(sinfo -h -n "$SLURM_NODE" -o %T 2>/dev/null) in
		idle) ok "the cluster is up: node $SLURM_NODE idle"
			return 0 ;;
		esac
		sleep 0.1
	done
	sinfo >&2
	slurm_log
	die "node $SLURM_NODE is not idle after 30 s"
}

# slurm_jobs: the jobs the cluster still has pending or running, one
# "ID STATE NAME" a line
slurm_jobs() {
	squeue -h -o '%i %T %j' 2>/dev/null
}
