#!/usr/bin/env bash
# drove plan writes its file under a temporary name nobody can guess
# (the one write_file_atomic uses), then links it into place without
# replacing anything: a directory planted at the old predictable
# "<file>.new.<pid>" (the pid is known to whoever starts drove) does not
# stop it, and an existing file is still refused.
. "$DROVE_ROOT/tests/e2e/lib/llm.bash"

start_llm mock
backends "$MOCK_PORT" >drove.ini
printf '[drove]\nbackend = claude\n' >>drove.ini
printf '```\n[task a]\nprompt = Do a.\n```\n' >reply.txt
# exec keeps the shell's pid: the directory is at drove's own
# "<file>.new.<pid>"
sh -c 'mkdir "$2.new.$$" && exec "$1" plan "Goal [[reply_file=$3]]" -o "$2"' \
    sh "$DROVE" p.ini "$T/reply.txt" >o 2>e
expect_eq "$?" 0 "plan succeeds beside a planted directory"
expect_has "$(cat p.ini 2>/dev/null)" $'[task a]\nprompt = Do a.' \
    "the planned file is written"
expect_eq "$(ls -A | grep -c '^p\.ini\.')" 1 \
    "no temporary file left (only the planted directory)"
"$DROVE" plan "Goal [[reply_file=$T/reply.txt]]" -o p.ini >o 2>e
expect_eq "$?" 2 "an existing file is refused"
finish
