# bash completion for drove: commands, each command's options, and files
# where a command takes one.  Installed by ./build.sh install into
# PREFIX/share/bash-completion/completions/drove.

_drove()
{
	local cur prev cmd i opts
	COMPREPLY=()
	cur=${COMP_WORDS[COMP_CWORD]}
	prev=${COMP_WORDS[COMP_CWORD-1]}
	cmd=
	for ((i = 1; i < COMP_CWORD; i++)); do
		case ${COMP_WORDS[i]} in
		--plugin-dir) ((i++)) ;;
		-*) ;;
		*) cmd=${COMP_WORDS[i]}; break ;;
		esac
	done
	case $prev in
	-c|--config|-o|--output|--svg|--html|--ca-file)
		COMPREPLY=($(compgen -f -- "$cur"))
		return 0 ;;
	--run-dir|--plugin-dir)
		COMPREPLY=($(compgen -d -- "$cur"))
		return 0 ;;
	-j|--jobs|-P|-b|--backend|--task-backend|-H|-d|-X|--resume|--notify|--older-than|\
	--connect-timeout|--tls-timeout|--first-byte-timeout|--idle-timeout)
		return 0 ;;
	esac
	if [ -z "$cmd" ]; then
		COMPREPLY=($(compgen -W "run graph plan report status wait
		    stop ls logs fetch clean plugins doctor version help --plugin-dir --help --version" \
		    -- "$cur"))
		return 0
	fi
	case $cmd in
	run) opts="-j --jobs -c --config -k --keep-going --resume --force
	    --notify --dry-run -y --yes --json -q --quiet -v --verbose --run-dir
	    -d --detach --help" ;;
	status) opts="--json --run-dir --help" ;;
	wait|stop|ls) opts="--run-dir --help" ;;
	logs) opts="-f --follow --replica --run-dir --help" ;;
	graph) opts="--dot -c --config --help" ;;
	plan) opts="-b --backend --task-backend -o --output -f --force
	    -c --config --help" ;;
	report) opts="--svg --html --json --run-dir --help" ;;
	fetch) opts="-H -d -X --ca-file --sse --connect-timeout --tls-timeout
	    --first-byte-timeout --idle-timeout --stats -P --help" ;;
	clean) opts="--force --failed --older-than -n --dry-run --run-dir
	    --help" ;;
	plugins) opts="-c --config --plugin-dir --help" ;;
	doctor) opts="-c --config --probe --help" ;;
	version) opts="--help" ;;
	*) return 0 ;;
	esac
	if [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W "$opts" -- "$cur"))
	elif [ "$cmd" = run ] || [ "$cmd" = graph ] || [ "$cmd" = doctor ]; then
		COMPREPLY=($(compgen -f -X '!*.ini' -- "$cur") \
		    $(compgen -d -- "$cur"))
	fi
	return 0
}
complete -F _drove drove
