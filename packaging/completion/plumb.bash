# bash completion for plumb and plumbd                       -*- shell-script -*-
# Installed as /usr/share/bash-completion/completions/plumb (and plumbd, a
# link to it). Options and commands as `plumb --help` lists them
# (tests/e2e/t0604-man-help.sh keeps them in step).

_plumb()
{
	local cur prev words cword
	_init_completion || return

	case $prev in
	-c | --config)
		_filedir '@(yaml|yml)'
		return
		;;
	--root | --state-dir | --baseline-dir)
		_filedir -d
		return
		;;
	esac

	if [[ $1 == plumbd || ${words[0]##*/} == plumbd ]]; then
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W '--config --root --state-dir --baseline-dir --once --verbose --quiet --version --help' -- "$cur"))
		fi
		return
	fi

	local i cmd=
	for ((i = 1; i < cword; i++)); do
		case ${words[i]} in
		-c | --config | --root | --state-dir | --baseline-dir) ((i++)) ;;
		-*) ;;
		*) cmd=${words[i]}; break ;;
		esac
	done
	if [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W '--config --root --state-dir --baseline-dir --json --diff --verbose --quiet --help' -- "$cur"))
	elif [[ -z $cmd ]]; then
		COMPREPLY=($(compgen -W 'check apply verify trust status deliver spool check-config version' -- "$cur"))
	elif [[ $cmd == trust && $prev == trust ]]; then
		COMPREPLY=($(compgen -W 'reset' -- "$cur"))
	elif [[ $cmd == spool && $prev == spool ]]; then
		COMPREPLY=($(compgen -W 'requeue' -- "$cur"))
	fi
} && complete -F _plumb plumb plumbd
