# drove's exec agents on a real single-node Slurm cluster (munged,
# slurmctld and slurmd on 127.0.0.1, lib/slurm.bash), started once for
# every case here and stopped at the end, however the test ends.
. "$(dirname "$0")/lib/slurm.bash"

slurm_start

# the cluster itself: srun streams output, forwards the exit status
o=$(srun --job-name=probe sh -c 'echo out; echo err >&2; exit 3' 2>e)
expect_eq "$?" 3 "srun forwards the exit status"
expect_eq "$o" out "srun streams the step's output"
expect_has "$(cat e)" err "srun streams the step's stderr"

finish
