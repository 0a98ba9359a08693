# shellcheck shell=bash
# Sourced by the shell scripts of bench/: a temp dir for one run, and the
# processes the script starts, stopped by their PIDs on exit.
#
#   source "$(dirname "$0")/tempdir.sh" NAME   # sets work (a new temp dir)
#   some-server ... & pids+=($!)               # stopped on exit, last first
#
# KEEP=1 keeps the temp dir (logs, configs, results) and prints its path.

work=$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX")
pids=()
cleanup() {
	local i
	for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
		kill "${pids[i]}" 2>/dev/null || true
		wait "${pids[i]}" 2>/dev/null || true
	done
	if [[ -n "${KEEP:-}" ]]; then
		echo "kept $work" >&2
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
