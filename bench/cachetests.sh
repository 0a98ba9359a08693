#!/usr/bin/env bash
# Runs the public HTTP caching test suite (npm package http-cache-tests,
# https://cache-tests.fyi) against examples/cacheproxy and prints a summary.
#
#   bench/cachetests.sh                                   # embedded Redis (miniredis)
#   REDIS_URL=redis://127.0.0.1:6379/0 bench/cachetests.sh  # a real server
#   KEEP=1 bench/cachetests.sh                            # keep the temp dir (logs, results.json)
#
# Needs node and npm (the suite is installed from the npm registry into a temp
# dir) and go. Steps: install http-cache-tests@0.4.5; patch its test server to
# listen on 127.0.0.1 only (it binds every interface); start it on a free
# port; build examples/cacheproxy and start it on a free port in front of the
# server; run the suite's CLI runner through the proxy; classify each result
# with the suite's own rules (lib/display.mjs determineTestResult) and print
# the counts. The exit status is 1 when a required test failed, other than
# the ones no cache can pass (the origin disconnects and the suite wants the
# origin's response: the summary names them). Every process
# the script starts is stopped by its PID on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION=0.4.5
# shellcheck source=SCRIPTDIR/tempdir.sh
source bench/tempdir.sh cachetests

# wait_log FILE REGEX prints the first match of REGEX in FILE, waiting up to
# 30s; it fails when PID (the process writing FILE) exits first.
wait_log() {
	local file=$1 re=$2 pid=$3
	for _ in $(seq 300); do
		if grep -Eo "$re" "$file" 2>/dev/null | head -1 | grep .; then
			return 0
		fi
		if ! kill -0 "$pid" 2>/dev/null; then
			echo "process $pid exited; its log:" >&2
			cat "$file" >&2
			return 1
		fi
		sleep 0.1
	done
	echo "timed out waiting for /$re/ in $file" >&2
	return 1
}

echo "installing http-cache-tests@$VERSION into $work" >&2
npm install --prefix "$work" --no-audit --no-fund --loglevel=error "http-cache-tests@$VERSION" >&2
suite="$work/node_modules/http-cache-tests"
sed -i "s/^server.listen(port)\$/server.listen(port, '127.0.0.1')/" "$suite/server/server.mjs"
grep -q "^server.listen(port, '127.0.0.1')\$" "$suite/server/server.mjs" || {
	echo "could not patch the test server's listen call" >&2
	exit 1
}

# The test server: port 0 picks a free one, which it prints.
(cd "$suite" && exec env npm_package_config_protocol=http npm_package_config_port=0 \
	npm_package_config_pidfile="$work/server.pid" node server/server.mjs >"$work/server.log" 2>&1) &
pids+=($!)
origin=$(wait_log "$work/server.log" 'http://127\.0\.0\.1:[0-9]+' "${pids[-1]}")

echo "building examples/cacheproxy" >&2
go build -o "$work/cacheproxy" ./examples/cacheproxy
"$work/cacheproxy" -origin "$origin" -listen 127.0.0.1:0 -redis auto >"$work/proxy.log" 2>&1 &
pids+=($!)
proxy=$(wait_log "$work/proxy.log" 'addr=http://127\.0\.0\.1:[0-9]+' "${pids[-1]}")
proxy=${proxy#addr=}
grep -o 'using=.*' "$work/proxy.log" | head -1 >&2 || true
echo "suite server $origin, cacheproxy $proxy; running the suite" >&2

start=$SECONDS
(cd "$suite" && env npm_config_base="$proxy" npm_config_id= npm_package_config_id= \
	node --no-warnings cli.mjs >"$work/results.json")
echo "suite ran in $((SECONDS - start))s" >&2

# Counts by the suite's own classification (lib/display.mjs), over all the
# tests cli.mjs runs (tests/index.mjs plus surrogate-control, 355 in 0.4.5),
# by kind: required, optimal (optional) and check (informational).
cat >"$work/summary.mjs" <<'EOF'
import fs from 'fs'
import * as display from './lib/display.mjs'
import tests from './tests/index.mjs'
import surrogate from './tests/surrogate-control.mjs'

tests.push(surrogate) // as cli.mjs does
const results = JSON.parse(fs.readFileSync(process.argv[2]))
const names = { '✅': 'pass', '⛔️': 'fail', '⚠️': 'fail', Y: 'yes', N: 'no',
  '🔹': 'setup-fail', '⁉️': 'harness-fail', '⚪️': 'untested (dependency failed)', '↻': 'retry', '-': 'untested' }
const kinds = { required: 'required', optimal: 'optional', check: 'check' }
const counts = { required: {}, optional: {}, check: {} }
const listed = { required: [], optional: [] }
// A test whose origin disconnects and that wants the response not from the
// cache cannot pass: the suite then checks the response for the origin's
// request counter, which no response the origin never sent can carry.
const unpassable = t => t.requests.some(r => r.disconnect && r.expected_type === 'not_cached')
let failed = 0
let total = 0
for (const suite of tests) {
  for (const t of suite.tests) {
    total++
    const kind = kinds[t.kind || 'required']
    // browser_only tests are for a browser's private cache: the CLI skips them
    let name = t.browser_only ? 'not run (browser only)' : names[display.determineTestResult(tests, t.id, results)[2]]
    if (kind === 'required' && name === 'fail') {
      if (unpassable(t)) name = 'fail (unpassable: origin disconnects)'
      else failed++
    }
    counts[kind][name] = (counts[kind][name] || 0) + 1
    if (kind !== 'check' && name !== 'pass' && !t.browser_only) {
      listed[kind].push(`  ${kind} ${name}: ${suite.id}/${t.id} ${JSON.stringify(results[t.id] ?? null)}`)
    }
  }
}
const line = c => Object.entries(c).sort().map(([k, v]) => `${v} ${k}`).join(', ')
console.log(`http-cache-tests, ${total} tests`)
for (const k of Object.keys(counts)) console.log(`${k}: ${line(counts[k])}`)
console.log([...listed.required, ...listed.optional].join('\n'))
process.exit(failed ? 1 : 0)
EOF
cp "$work/summary.mjs" "$suite/summary.mjs"
(cd "$suite" && node --no-warnings summary.mjs "$work/results.json")
