#!/usr/bin/env bash
# Runs the benchmarks of the bench module on real redis-server processes
# (started by internal/redistest) with -benchmem -count 10, then compares the
# implementations of each benchmark with benchstat.
#
#   ./run.sh                      # every benchmark, 10 runs each
#   BENCH='SetGet|GetMany' ./run.sh
#   COUNT=5 ./run.sh
#   INTERLEAVE=1 ./run.sh         # COUNT rounds of -count 1 instead (see below)
#   OUT=dir ./run.sh              # results in dir (default $TMPDIR/rediskit-bench)
#   ./run.sh compare FILE         # only the comparison, from a saved run
#   BASE=main INTERLEAVE=1 ./run.sh # also the benchmarks of git revision BASE,
#                                 # round by round next to this tree's (below)
#
# Convention: the implementations of one benchmark are sibling sub-benchmarks
# named impl=<name>, the baseline first (BenchmarkSetGet/target=cluster/impl=raw
# and .../impl=rediskit). For every top-level benchmark whose results carry an
# impl= key this script prints `benchstat -col /impl` (the first impl is the
# base) and a speed-up table: base / impl of the median sec/op and cpu-sec/op
# (>1 means impl is faster) and impl - base of allocs/op. Other benchmarks
# get a plain benchstat summary.
set -euo pipefail
cd "$(dirname "$0")"
export GOWORK=off # bench is its own module, outside the repository's go.work

BENCHSTAT_VERSION=v0.0.0-20260908200009-22c9c6c9d4da
benchstat() { go run "golang.org/x/perf/cmd/benchstat@${BENCHSTAT_VERSION}" "$@"; }

COUNT=${COUNT:-10}
BENCH=${BENCH:-.}
OUT=${OUT:-${TMPDIR:-/tmp}/rediskit-bench}

# speedups reads `benchstat -format csv` and prints, per row, base/impl of the
# sec/op medians and impl-base of the allocs/op medians.
speedups() {
	awk -F, '
	/^$/ { state = 0; next }
	/^,/ && state == 0 {  # implementation names, each over its columns
		split("", impl); n = ""
		for (i = 2; i <= NF; i++) { if ($i != "") n = $i; impl[i] = n }
		state = 1; next
	}
	/^,/ && state == 1 {  # units: value columns carry the base unit
		unit = $2; split("", val)
		for (i = 4; i <= NF; i++) if ($i == unit) val[i] = 1
		state = 2
		if (unit == "sec/op" || unit == "cpu-sec/op" || unit == "allocs/op") print "  " unit ":"
		next
	}
	state == 2 && $1 != "geomean" && (unit == "sec/op" || unit == "cpu-sec/op" || unit == "allocs/op") {
		line = sprintf("    %-50s", $1)
		for (i = 4; i <= NF; i++) if (i in val) {
			if (unit != "allocs/op" && $i + 0 > 0) line = line sprintf("  %s %.2fx", impl[i], $2 / $i)
			if (unit == "allocs/op") { d = sprintf("%+.1f", $i - $2); sub(/\.0$/, "", d); line = line "  " impl[i] " " d }
		}
		print line
	}
	'
}

# BASE=rev: the same benchmarks, built from git revision rev (a temporary
# worktree), run in every round right before this tree's, then compared
# per benchmark with benchstat (base vs new): a change measured against the
# code before it in one run.
build_base() {
	local src
	src=$(mktemp -d)
	git -C .. worktree add --quiet --detach "$src" "$BASE"
	(cd "$src/bench" && go test -c -o "$OUT/base.test" .)
	git -C .. worktree remove --force "$src"
}

compare() {
	local file=$1 name
	for name in $(sed -n 's/^Benchmark\([A-Za-z0-9_]*\)[/ -].*/\1/p' "$file" | awk '!seen[$0]++'); do
		echo "### $name"
		if grep -q "^Benchmark$name/.*impl=" "$file"; then
			benchstat -col /impl -filter ".name:$name" "$file"
			echo "speed-up vs the first impl (base/impl of medians; allocs/op: impl - base):"
			benchstat -col /impl -filter ".name:$name" -format csv "$file" 2>/dev/null | speedups
		else
			benchstat -filter ".name:$name" "$file"
		fi
		echo
	done
}

if [[ ${1:-} == compare ]]; then
	compare "${2:?usage: run.sh compare FILE}"
	exit 0
fi

mkdir -p "$OUT"
if [[ -n ${BASE:-} && ${INTERLEAVE:-0} != 1 ]]; then
	echo "BASE needs INTERLEAVE=1" >&2
	exit 2
fi
if [[ ${INTERLEAVE:-0} == 1 ]]; then
	# COUNT rounds of -count 1 from one test binary: every implementation
	# runs next to its baseline in each round, so load that drifts during
	# the run (other processes on the machine) hits both alike.
	go test -c -o "$OUT/bench.test" .
	: >"$OUT/bench.txt"
	if [[ -n ${BASE:-} ]]; then
		build_base
		: >"$OUT/base.txt"
	fi
	for round in $(seq "$COUNT"); do
		echo "# round $round/$COUNT" >&2
		if [[ -n ${BASE:-} ]]; then
			"$OUT/base.test" -test.run '^$' -test.bench "$BENCH" -test.benchmem -test.count 1 -test.timeout 30m | tee -a "$OUT/base.txt"
		fi
		"$OUT/bench.test" -test.run '^$' -test.bench "$BENCH" -test.benchmem -test.count 1 -test.timeout 30m | tee -a "$OUT/bench.txt"
	done
else
	go test -run '^$' -bench "$BENCH" -benchmem -count "$COUNT" -timeout 90m . | tee "$OUT/bench.txt"
fi
compare "$OUT/bench.txt" | tee "$OUT/benchstat.txt"
if [[ -n ${BASE:-} ]]; then
	echo "### base ($BASE) vs new (this tree)" | tee -a "$OUT/benchstat.txt"
	benchstat "base=$OUT/base.txt" "new=$OUT/bench.txt" | tee -a "$OUT/benchstat.txt"
fi
echo "results: $OUT/bench.txt${BASE:+, base: $OUT/base.txt}, comparison: $OUT/benchstat.txt"
