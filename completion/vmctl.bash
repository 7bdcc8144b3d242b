# bash completion for vmctl(1): commands, their flags, guest names (asked of vmd, through the
# read-only socket when the main one is closed to the user; of the remote vmd with -H, over ssh
# in batch mode so that completing never prompts), files for create/define.
# shellcheck shell=bash

_vmctl_guests()
{
	local sock=() out
	[[ -n ${_vmctl_socket-} ]] && sock=(-s "$_vmctl_socket")
	if [[ -n ${_vmctl_host-} ]]; then
		out=$(VMD_SSH_COMMAND="${VMD_SSH_COMMAND:-ssh} -o BatchMode=yes" \
			vmctl -H "$_vmctl_host" list --all 2>/dev/null </dev/null) || return
		awk 'NR > 1 { print $1 }' <<<"$out"
		return
	fi
	out=$(vmctl "${sock[@]}" list --all 2>/dev/null) ||
		{ [[ -z ${_vmctl_socket-} ]] &&
			out=$(vmctl -s /run/vmd/vmd-ro.sock list --all 2>/dev/null); } ||
		return
	# The first column of the table, without its header.
	awk 'NR > 1 { print $1 }' <<<"$out"
}

_vmctl()
{
	local cur prev words cword
	_init_completion || return

	local commands="create define start shutdown reboot destroy pause unpause list info stats
		metrics top addresses remove config edit update console autostart clone migrate save
		restore vcpu-set mem-set sched-set block-attach block-detach cd-insert cd-eject
		network-attach network-detach network-rate network disk snapshot install image
		events version proxy help"
	local i cmd="" _vmctl_socket="" _vmctl_host=""
	for ((i = 1; i < cword; i++)); do
		case ${words[i]} in
		-s | --socket)
			_vmctl_socket=${words[i + 1]}
			((i++))
			;;
		-H | --host)
			_vmctl_host=${words[i + 1]}
			((i++))
			;;
		-*) ;;
		*)
			cmd=${words[i]}
			break
			;;
		esac
	done

	case $prev in
	-s | --socket)
		_filedir
		return
		;;
	-H | --host)
		# ssh://HOST for the hosts ssh knows (bash-completion's known_hosts list).
		local hosts
		_known_hosts_real -- "" 2>/dev/null
		hosts=("${COMPREPLY[@]}")
		mapfile -t COMPREPLY < <(compgen -W "${hosts[*]/#/ssh://}" -- "$cur")
		return
		;;
	--timeout | --disk-size | --memory | --vcpus | --extra | --bridge | --weight | --cap)
		return
		;;
	--iso | --kernel | --initrd | --disk | --disk-dir | --output)
		_filedir
		return
		;;
	--type)
		mapfile -t COMPREPLY < <(compgen -W "pv hvm" -- "$cur")
		return
		;;
	esac

	if [[ -z $cmd ]]; then
		if [[ $cur == -* ]]; then
			mapfile -t COMPREPLY < <(compgen -W "-s --socket -H --host -j --json -h --help
				-V --version" -- "$cur")
		else
			mapfile -t COMPREPLY < <(compgen -W "$commands" -- "$cur")
		fi
		return
	fi

	# Position of the word being completed among the command's arguments.
	local nargs=0
	for ((i = i + 1; i < cword; i++)); do
		[[ ${words[i]} == -* ]] || ((nargs++))
		case ${words[i]} in
		--timeout | --disk-size | --memory | --vcpus | --extra | --bridge | --iso | \
			--kernel | --initrd | --disk | --disk-dir | --type | --weight | --cap | \
			--output | --delay | --iterations | --sort | --interface | --subnet | \
			--image | --cloud-init | --meta-data | --network-config | --ssh-key | \
			--network)
			((i++)) ;;
		esac
	done

	local flags=""
	case $cmd in
	create) flags="--dry-run --image --cloud-init --disk-size --type --memory --vcpus --network
		--bridge --meta-data --network-config --ssh-key --disk --overlay --no-start" ;;
	define) flags="--dry-run" ;;
	shutdown) flags="--wait --timeout" ;;
	list) flags="--all --addresses" ;;
	remove) flags="--delete-disks" ;;
	config) flags="--json" ;;
	metrics) flags="--output --http" ;;
	top) flags="--delay --iterations --sort --batch" ;;
	console) flags="--timeout" ;;
	clone) flags="--disk-dir --start --sysprep" ;;
	migrate) flags="--live" ;;
	start) flags="--discard-save --paused" ;;
	save) flags="--keep-running" ;;
	restore) flags="--paused" ;;
	update) flags="--dry-run --config" ;;
	snapshot) flags="--memory" ;;
	network) flags="--nat --isolated --interface --subnet --no-dhcp" ;;
	vcpu-set | mem-set) flags="--live --config" ;;
	sched-set) flags="--weight --cap --live --config" ;;
	block-attach | block-detach | network-attach | network-detach | network-rate | cd-insert | \
		cd-eject)
		flags="--live --config" ;;
	install) flags="--iso --type --kernel --initrd --extra --disk-size --disk --memory --vcpus
		--bridge --no-network --no-vnc --no-start" ;;
	esac
	if [[ $cur == -* ]]; then
		mapfile -t COMPREPLY < <(compgen -W "$flags" -- "$cur")
		return
	fi
	case $prev in
	--image | --cloud-init | --meta-data | --network-config | --ssh-key | --disk)
		_filedir
		return
		;;
	--type)
		mapfile -t COMPREPLY < <(compgen -W "pv pvh hvm" -- "$cur")
		return
		;;
	esac

	case $cmd in
	create | define)
		((nargs == 0)) && _filedir '@(cfg|json)'
		;;
	start | shutdown | reboot | destroy | pause | unpause | info | remove | config | console | \
		edit | stats | addresses)
		((nargs == 0)) && mapfile -t COMPREPLY < <(compgen -W "$(_vmctl_guests)" -- "$cur")
		;;
	clone)
		((nargs == 0)) && mapfile -t COMPREPLY < <(compgen -W "$(_vmctl_guests)" -- "$cur")
		;;
	migrate)
		if ((nargs == 0)); then
			mapfile -t COMPREPLY < <(compgen -W "$(_vmctl_guests)" -- "$cur")
		elif ((nargs == 1)); then
			local hosts
			_known_hosts_real -- "" 2>/dev/null
			hosts=("${COMPREPLY[@]}")
			mapfile -t COMPREPLY < <(compgen -W "${hosts[*]/#/ssh://}" -- "$cur")
		fi
		;;
	update)
		((nargs == 0)) && mapfile -t COMPREPLY < <(compgen -W "$(_vmctl_guests)" -- "$cur")
		((nargs == 1)) && _filedir '@(cfg|json)'
		;;
	cd-insert)
		((nargs == 0)) && mapfile -t COMPREPLY < <(compgen -W "$(_vmctl_guests)" -- "$cur")
		((nargs == 2)) && _filedir '@(iso|img)'
		;;
	vcpu-set | mem-set | sched-set | block-attach | block-detach | network-attach | \
		network-detach | network-rate | cd-eject)
		((nargs == 0)) && mapfile -t COMPREPLY < <(compgen -W "$(_vmctl_guests)" -- "$cur")
		;;
	save)
		((nargs == 0)) && mapfile -t COMPREPLY < <(compgen -W "$(_vmctl_guests)" -- "$cur")
		((nargs == 1)) && _filedir
		;;
	restore)
		((nargs == 0)) && _filedir
		;;
	disk)
		((nargs == 0)) && mapfile -t COMPREPLY < <(compgen -W "create" -- "$cur")
		((nargs == 1)) && _filedir
		;;
	network)
		((nargs == 0)) &&
			mapfile -t COMPREPLY < <(compgen -W "create list info remove" -- "$cur")
		;;
	image)
		((nargs == 0)) && mapfile -t COMPREPLY < <(compgen -W "add list remove" -- "$cur")
		((nargs == 2)) && [[ ${words[cword - 2]} == add ]] && _filedir
		;;
	snapshot)
		((nargs == 0)) &&
			mapfile -t COMPREPLY < <(compgen -W "create list revert delete" -- "$cur")
		((nargs == 1)) && mapfile -t COMPREPLY < <(compgen -W "$(_vmctl_guests)" -- "$cur")
		;;
	autostart)
		if ((nargs == 0)); then
			mapfile -t COMPREPLY < <(compgen -W "$(_vmctl_guests)" -- "$cur")
		elif ((nargs == 1)); then
			mapfile -t COMPREPLY < <(compgen -W "on off" -- "$cur")
		fi
		;;
	esac
} && complete -F _vmctl vmctl
