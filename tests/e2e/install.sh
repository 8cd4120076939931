# ./build.sh install PREFIX= DESTDIR=: the binary, the man page and the
# bash completion land under DESTDIR/PREFIX; the completion completes
# commands and options; an unknown build.sh command or install argument is
# named.
. "$(dirname "$0")/lib.sh"

bdir=$(cd "$(dirname "$DROVE")" && pwd)
NOBUILD=1 BUILD_DIR=$bdir "$ROOT/build.sh" install PREFIX=/opt/dr \
    DESTDIR="$T/dest" >out.txt 2>err.txt
expect_eq "$?" 0 "install succeeds"
d=$T/dest/opt/dr
[ -x "$d/bin/drove" ] && ok "the binary is installed" || fail "no $d/bin/drove"
expect_has "$("$d/bin/drove" version)" "drove " "the installed binary runs"
cmp -s "$d/share/man/man1/drove.1" "$ROOT/docs/drove.1" &&
    ok "the man page is installed" || fail "no man page"
c=$d/share/bash-completion/completions/drove
[ -f "$c" ] && ok "the completion is installed" || fail "no $c"
expect_eq "$(stat -c %a "$d/bin/drove") $(stat -c %a "$c")" "755 644" "modes"
expect_has "$(cat out.txt)" "installed $d/bin/drove" "install says what it put where"

# the completion: commands, then a command's options
comp() {
	bash -c '. "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
	    _drove; echo "${COMPREPLY[*]}"' _ "$c" "$@"
}
expect_eq "$(comp drove r)" "run report" "completes commands"
got=$(comp drove run --j)
expect_eq "$got" "--jobs --json" "completes run's options"
expect_has "$(comp drove fetch -)" "--stats" "completes fetch's options"
expect_has "$(comp drove --plugin-dir x cl)" "clean" "skips --plugin-dir DIR"

# every option of every --help is in the completion
for cmd in run graph plan report fetch clean plugins doctor status wait stop ls logs; do
	for o in $("$DROVE" "$cmd" --help | grep -oE '(^|[[ ,])--?[a-zA-Z][-a-zA-Z]*' |
	    sed 's/^[[ ,]*//' | sort -u); do
		[ "$o" = --plugin-dir ] && [ "$cmd" != plugins ] && continue
		case " $(comp drove "$cmd" -) " in
		*" $o "*) ;;
		*) fail "completion of '$cmd' lacks $o" ;;
		esac
	done
done
ok "the completion knows every option of every --help"

# names what it does not know
"$ROOT/build.sh" frobnicate >/dev/null 2>err.txt
expect_eq "$?" 2 "unknown build.sh command: exit 2"
expect_has "$(cat err.txt)" "unknown command 'frobnicate'" "it is named"
expect_has "$(cat err.txt)" "install" "the usage lists install"
NOBUILD=1 "$ROOT/build.sh" install PREFX=/x >/dev/null 2>err.txt
expect_eq "$?" 2 "unknown install argument: exit 2"
expect_has "$(cat err.txt)" "unknown argument 'PREFX=/x'" "it is named"
"$ROOT/build.sh" help >out.txt 2>&1
expect_eq "$?" 0 "help: exit 0"
expect_has "$(cat out.txt)" "install [PREFIX=/usr/local] [DESTDIR=]" "help shows install"
finish
