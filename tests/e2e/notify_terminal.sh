# notify_terminal = true: on a terminal, a run of notify_terminal_after or
# longer ends with OSC 777 (a desktop notification where the terminal knows
# it) and the bell, read off a tmux pane's raw output; a shorter run, a run
# without the key, and a run whose stderr is not a terminal send neither.
. "$(dirname "$0")/lib.sh"
need tmux

SOCK=drove-notify-$$
tm() { tmux -L "$SOCK" -f /dev/null "$@"; }
cleanup_hooks+=("tmux -L $SOCK kill-server 2>/dev/null")

# in_pane NAME CMD: runs CMD in $T on a fresh tmux pane whose raw output
# goes to NAME.raw; returns once CMD has ended
in_pane() {
	rm -f go "$1.done"
	# a session each, the server kept by the one before
	tm new-session -d -s "$1" -x 100 -y 30 \
	    "cd '$T' && while [ ! -e go ]; do sleep 0.05; done; $2; touch '$1.done'; sleep 600" ||
	    die "$1: tmux did not start"
	tm pipe-pane -o -t "$1" "cat >>'$T/$1.raw'"
	touch go
	wait_for "[ -e '$1.done' ]" 60 || die "$1: the command did not end"
	# what cat has not written yet
	wait_for "[ -s '$1.raw' ]" 5
	sleep 0.2
}
osc() { cat "$1.raw" 2>/dev/null | grep -c $'\033]777;notify;drove;'; }

write_ini() {
	cat >"$1" <<INI
[drove]
$2

[backend sh]
type = exec
command = sh -c 'sleep $3; cat'

[task a]
prompt = alpha
INI
}

write_ini long.ini "notify_terminal = true
notify_terminal_after = 1s" 1.5
in_pane long "'$DROVE' run long.ini"
raw=$(cat long.raw)
expect_has "$raw" $'\033]777;notify;drove;run ' "a long run ends with OSC 777"
expect_has "$raw" " ok after " "the notification says how the run ended"
expect_has "$raw" $'\a\a' "and rings the bell"
run=$(basename "$(readlink .drove/runs/last)")
expect_has "$raw" "drove;run $run ok" "it names the run"

write_ini short.ini "notify_terminal = true
notify_terminal_after = 30s" 0
in_pane short "'$DROVE' run short.ini"
expect_eq "$(osc short)" 0 "a run shorter than notify_terminal_after sends nothing"
[ -s short.raw ] && ok "the short run's output was read" || fail "nothing read from the short run's pane"

write_ini off.ini "" 1.5
sed -i 's/^\[drove\]$/[drove]\nnotify_terminal_after = 1s/' off.ini
in_pane off "'$DROVE' run off.ini"
expect_eq "$(osc off)" 0 "without notify_terminal nothing is sent"
expect_eq "$(grep -c $'\a' off.raw)" 0 "nor is the bell rung"

in_pane piped "'$DROVE' run long.ini 2>piped.err"
expect_eq "$(osc piped)" 0 "stderr not a terminal: nothing on the pane"
expect_eq "$(grep -c $'\033]777' piped.err)" 0 "nor in the file stderr goes to"
expect_has "$(cat piped.err)" "run " "the run's own stderr went to the file"
finish
