#!/usr/bin/env bash
# HTTP-level benchmarks under wrk load, on loopback; not run by CI.
#
#   bench/http/run.sh            # both parts (~7 min with the defaults)
#   bench/http/run.sh cache      # issue 15: cache hits, ~4 min
#   bench/http/run.sh service    # issue 13: the example service, ~3 min
#   ROUNDS=5 DURATION=15 bench/http/run.sh cache
#   OUT=dir KEEP=1 bench/http/run.sh   # results in dir; keep the temp dir
#
# cache (issue 15): one origin (memserver: a 2 KiB `public, max-age=300`
# body on every path, counting the requests it serves) behind
# examples/cacheproxy on Redis, examples/cacheproxy on Redis with its
# in-process tier (-local-bytes, skipped with a message when the binary has
# no such flag), nginx proxy_cache and Varnish, next to a second memserver
# answering from memory (the ceiling of a Go net/http program). Two rows: one
# URL, and URLS (1,000) URLs cycled by cycle.lua. Each round uses paths of its
# own (/r<round>/...) and warms every cache on them first (until a warm-up
# pass sends nothing to the origin), so nothing goes stale during a round;
# the origin's request count is read before and after every measured window
# and reported (it must stay 0: every answer a hit).
#
# service (issue 13): examples/service on a real redis-server, against
# memserver replaying the same bodies and content headers from memory (the
# bare handler): GET /products/1 (an httpcache hit), GET /api/limited from one
# client (one hot rate-limit key) and from 1,000 clients (X-Forwarded-For
# 127.1.x.y from the trusted proxy 127.0.0.1), and GET /articles/hello-redis
# from 1,000 clients (view counting). The limit is set so high that every
# decision allows: the routes answer 200 like their bare twins.
#
# Every measurement is `wrk -t THREADS -c CONNS -d DURATION --latency`
# (defaults 2, 64, 7 s). For the service, the check column counts the
# warnings and errors it logged during the window (Redis calls that failed
# or timed out: a decision that failed open, a lookup served by the handler). Rounds interleave: each round measures every target
# of a row, in an order rotated from round to round. report/ prints, per row
# and target, the median req/s over rounds (min–max), the median p99 and the
# median of the per-round ratios to the baselines (the Go in-memory server,
# nginx and Varnish; the bare handler). The raw windows go to
# $OUT/results.tsv, the tables to $OUT/report.md (default OUT:
# $TMPDIR/rediskit-httpbench; bench/README.md's numbers are in
# bench/http/results/, made with OUT=bench/http/results), wrk's own output
# to the temp dir's wrk/.
#
# Needs go, curl, redis-server, wrk, nginx and varnishd; what is missing is
# installed with apt-get when running as root (services are not started on
# install: a policy-rc.d that denies it is put in place when there is none).
# Every server runs as a foreground child of this script, on 127.0.0.1 and
# free ports, with its config and files in a temp dir; each is stopped by its
# PID on exit.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-7}          # seconds per measured window
THREADS=${THREADS:-2}
CONNS=${CONNS:-64}
URLS=${URLS:-1000}
WARM=${WARM:-1}                  # seconds of wrk warming the URLS paths
LOCAL_BYTES=${LOCAL_BYTES:-67108864} # cacheproxy -local-bytes (64 MiB)
OUT=${OUT:-${TMPDIR:-/tmp}/rediskit-httpbench}

case "${1:-all}" in
all) parts=(service cache) ;;
service | cache) parts=("$1") ;;
*)
	sed -n '2,8p' "$0" >&2
	exit 2
	;;
esac

# shellcheck source=SCRIPTDIR/../tempdir.sh
source "$here/../tempdir.sh" httpbench
chmod 755 "$work" # nginx and Varnish workers run as other users when root

log() { echo "httpbench: $*" >&2; }

# install_missing installs the Debian packages of the commands the parts
# need, without letting the packages start their services.
install_missing() {
	local need=() cmd pkg policy=/usr/sbin/policy-rc.d ours=
	for cmd in curl:curl redis-server:redis-server wrk:wrk nginx:nginx varnishd:varnish; do
		pkg=${cmd#*:}
		cmd=${cmd%%:*}
		[[ " ${parts[*]} " != *" cache "* && ($pkg == nginx || $pkg == varnish) ]] && continue
		command -v "$cmd" >/dev/null || need+=("$pkg")
	done
	((${#need[@]})) || return 0
	if [[ $(id -u) != 0 ]]; then
		log "missing ${need[*]}: run as root, or apt-get install -y ${need[*]}"
		exit 1
	fi
	if [[ ! -e $policy ]]; then
		printf '#!/bin/sh\nexit 101\n' >"$policy"
		chmod 755 "$policy"
		ours=1
	fi
	log "installing ${need[*]} (apt-get)"
	apt-get update -qq >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >&2 || {
		[[ -n $ours ]] && rm -f "$policy"
		exit 1
	}
	[[ -n $ours ]] && rm -f "$policy"
	for pkg in nginx varnish; do # started anyway by an allowing policy-rc.d?
		if [[ " ${need[*]} " == *" $pkg "* ]] && service "$pkg" status >/dev/null 2>&1; then
			log "stopping the $pkg service the package started"
			service "$pkg" stop >&2
		fi
	done
}

# free_port VAR sets VAR to a loopback port nothing listens on (and not
# handed out before), below the ephemeral range, where the load's own
# client connections could take it between this check and the bind.
taken=" "
redis_port='' origin_port='' # set by free_port
ephemeral=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
((ephemeral > 11000)) || ephemeral=11000 # then collisions are possible, and rare
free_port() {
	local p
	while :; do
		p=$((10000 + RANDOM % (ephemeral - 10000)))
		[[ $taken == *" $p "* ]] && continue
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			taken+="$p "
			printf -v "$1" %s "$p"
			return
		fi
	done
}

# start NAME CMD... runs CMD in the background, output to $work/NAME.log.
start() {
	last=$1
	shift
	"$@" >"$work/$last.log" 2>&1 &
	pids+=($!)
}

# wait_http URL waits up to 30 s for URL to answer; it fails when the
# process started last exits first.
wait_http() {
	local pid=${pids[-1]}
	for _ in $(seq 300); do
		curl -so /dev/null "$1" && return 0
		if ! kill -0 "$pid" 2>/dev/null; then
			log "$last (PID $pid) exited before $1 answered; the end of its log:"
			tail -20 "$work/$last.log" >&2
			exit 1
		fi
		sleep 0.1
	done
	log "timed out waiting for $1"
	exit 1
}

start_redis() {
	free_port redis_port
	start redis redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no --dir "$work"
	for _ in $(seq 100); do
		redis-cli -p "$redis_port" ping 2>/dev/null | grep -q PONG && return 0
		sleep 0.1
	done
	log "redis-server did not answer"
	exit 1
}

# measure PART ROUND ROW TARGET CHECK URL [LUA ARGS...] runs wrk on URL
# (with cycle.lua and ARGS when given) and appends one line to
# results.tsv. CHECK is a command printing a counter of origin work, read
# before and after the window, or "-".
measure() {
	local part=$1 round=$2 row=$3 target=$4 check=$5 url=$6 before=- after=- delta=-
	shift 6
	local script=() raw
	(($#)) && script=(-s "$here/cycle.lua")
	raw="$work/wrk/$part-r$round-${row//[^a-zA-Z0-9]/_}-$target.txt"
	[[ $check != - ]] && before=$($check)
	if (($#)); then
		wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" --latency "${script[@]}" "$url" -- "$@" >"$raw"
	else
		wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" --latency "$url" >"$raw"
	fi
	[[ $check != - ]] && after=$($check) && delta=$((after - before))
	local line
	line=$(awk -v OFS='\t' '
		function us(v) {
			if (v ~ /us$/) return v + 0
			if (v ~ /ms$/) return (v + 0) * 1000
			if (v ~ /s$/) return (v + 0) * 1000000
			return v + 0
		}
		/^Requests\/sec:/ { rps = $2 }
		/^ +99%/ { p99 = us($2) }
		/ requests in / { n = $1 }
		/Non-2xx or 3xx responses:/ { bad = $NF }
		/Socket errors:/ { gsub(",", ""); sock = $4 + $6 + $8 + $10 }
		END { print rps, p99, n, bad + 0, sock + 0 }' "$raw")
	printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$part" "$round" "$row" "$target" "$line" "$delta" >>"$OUT/results.tsv"
	log "$(printf '%-7s r%s %-40s %-16s %s check %s' "$part" "$round" "$row" "$target" "$(cut -f1,2 <<<"$line" | awk '{printf "%8.0f req/s p99 %6.0f µs", $1, $2}')" "$delta")"
}

# rotate N WORDS... prints WORDS rotated left by N.
rotate() {
	local n=$1
	shift
	local a=("$@")
	n=$((n % ${#a[@]}))
	echo "${a[@]:n}" "${a[@]:0:n}"
}

build() {
	log "building examples/service, examples/cacheproxy, memserver, report"
	mkdir -p "$work/bin"
	(cd "$root/examples" && go build -o "$work/bin/" ./service ./cacheproxy)
	(cd "$root/bench" && GOWORK=off go build -o "$work/bin/" ./http/memserver ./http/report)
}

origin_requests() { curl -sf "http://127.0.0.1:$origin_port/-/requests"; }

# warm TARGET ROUND requests every URL of the round through TARGET (wrk for
# WARM seconds over the URLS paths, which covers each many times) until a
# pass sends nothing to the origin, 5 passes at most.
warm() {
	local t=$1 round=$2 pass before
	for pass in 1 2 3 4 5; do
		before=$(origin_requests)
		curl -sf -o /dev/null "${url[$t]}/r$round/one"
		wrk -t"$THREADS" -c"$CONNS" -d"${WARM}s" -s "$here/cycle.lua" "${url[$t]}" -- paths "/r$round/p" "$URLS" >/dev/null
		if [[ $t == go || $(origin_requests) == "$before" ]]; then
			((pass <= 2)) || log "$t warm after $pass warm-up passes (the first fills the cache)"
			return 0
		fi
	done
	log "$t still sent requests to the origin in its 5th warm-up pass"
}

cache_part() {
	local port
	declare -gA url=()
	targets=(go cacheproxy)

	free_port origin_port
	start origin "$work/bin/memserver" -addr "127.0.0.1:$origin_port"
	wait_http "http://127.0.0.1:$origin_port/-/requests"
	free_port port
	start go "$work/bin/memserver" -addr "127.0.0.1:$port"
	wait_http "http://127.0.0.1:$port/-/requests"
	url[go]=http://127.0.0.1:$port

	free_port port
	start cacheproxy "$work/bin/cacheproxy" -addr "127.0.0.1:$port" \
		-origin "http://127.0.0.1:$origin_port" -redis "redis://127.0.0.1:$redis_port/1"
	url[cacheproxy]=http://127.0.0.1:$port
	wait_http "${url[cacheproxy]}/-/requests"
	local help
	help=$("$work/bin/cacheproxy" -h 2>&1 || true) # -h exits 2
	if [[ $help == *-local-bytes* ]]; then
		free_port port
		start cacheproxy-local "$work/bin/cacheproxy" -addr "127.0.0.1:$port" -local-bytes "$LOCAL_BYTES" \
			-origin "http://127.0.0.1:$origin_port" -redis "redis://127.0.0.1:$redis_port/2"
		url[cacheproxy+local]=http://127.0.0.1:$port
		wait_http "${url[cacheproxy+local]}/-/requests"
		targets+=(cacheproxy+local)
	else
		log "SKIPPED cacheproxy + in-process tier: this examples/cacheproxy has no -local-bytes flag"
	fi

	free_port port
	mkdir -p "$work/nginx"
	local user=
	[[ $(id -u) == 0 ]] && user="user nobody nogroup;"
	cat >"$work/nginx/nginx.conf" <<-EOF
		# nginx proxy_cache in front of the origin; only 127.0.0.1.
		$user
		daemon off;
		worker_processes auto;
		pid $work/nginx/nginx.pid;
		error_log $work/nginx/error.log warn;
		events { worker_connections 4096; }
		http {
		    access_log off;
		    client_body_temp_path $work/nginx/client_body;
		    proxy_temp_path $work/nginx/proxy_temp;
		    fastcgi_temp_path $work/nginx/fastcgi;
		    uwsgi_temp_path $work/nginx/uwsgi;
		    scgi_temp_path $work/nginx/scgi;
		    proxy_cache_path $work/nginx/cache levels=1:2 keys_zone=bench:16m max_size=1g inactive=1h use_temp_path=off;
		    upstream origin {
		        server 127.0.0.1:$origin_port;
		        keepalive 32;
		    }
		    server {
		        listen 127.0.0.1:$port;
		        location / {
		            proxy_pass http://origin;
		            proxy_http_version 1.1;
		            proxy_set_header Connection "";
		            proxy_cache bench;
		            add_header X-Cache-Status \$upstream_cache_status;
		        }
		    }
		}
	EOF
	start nginx nginx -p "$work/nginx" -c "$work/nginx/nginx.conf"
	url[nginx]=http://127.0.0.1:$port
	wait_http "${url[nginx]}/-/requests"
	targets+=(nginx)

	free_port port
	start varnish varnishd -F -a "127.0.0.1:$port" -b "127.0.0.1:$origin_port" -T none \
		-n "$work/varnish" -s malloc,512m
	url[varnish]=http://127.0.0.1:$port
	wait_http "${url[varnish]}/-/requests"
	targets+=(varnish)

	# Each cache answers a second request from its store.
	local t n0
	for t in "${targets[@]}"; do
		[[ $t == go ]] && continue
		curl -sf -o /dev/null "${url[$t]}/check"
		n0=$(origin_requests)
		curl -sf -o /dev/null "${url[$t]}/check"
		if [[ $(origin_requests) != "$n0" ]]; then
			log "$t sent a second request for /check to the origin: not caching"
			exit 1
		fi
	done

	local round mode
	for ((round = 1; round <= ROUNDS; round++)); do
		for t in "${targets[@]}"; do
			warm "$t" "$round"
		done
		for mode in "1 URL" "$URLS URLs"; do
			for t in $(rotate "$round" "${targets[@]}"); do
				if [[ $mode == "1 URL" ]]; then
					measure cache "$round" "$mode" "$t" "$([[ $t == go ]] && echo - || echo origin_requests)" \
						"${url[$t]}/r$round/one"
				else
					measure cache "$round" "$mode" "$t" "$([[ $t == go ]] && echo - || echo origin_requests)" \
						"${url[$t]}" paths "/r$round/p" "$URLS"
				fi
			done
		done
	done
}

product_loads() { curl -sf "$service/stats/origin" | tr -dc 0-9; }

# service_failures counts the warnings and errors the service logged: Redis
# calls that failed or timed out (a rate-limit decision that failed open,
# a cache lookup that fell through to the handler, a failed flush).
service_failures() { grep -c 'level=WARN\|level=ERROR' "$work/service.log" || true; }

service_part() {
	local port
	free_port port
	service=http://127.0.0.1:$port
	start service "$work/bin/service" -addr "127.0.0.1:$port" -redis "redis://127.0.0.1:$redis_port/0" \
		-rate-limit 1000000000 -rate-window 1h -trusted-proxies 127.0.0.1/32
	wait_http "$service/healthz"

	# The bare handler replays what the service answers.
	local capture=() path
	for path in /products/1 /api/limited /articles/hello-redis; do
		curl -sf -o /dev/null "$service$path" # a product's first load is a miss
		curl -sfi "$service$path" >"$work/capture${path//\//_}.http"
		capture+=(-route "$path=$work/capture${path//\//_}.http")
	done
	free_port port
	bare=http://127.0.0.1:$port
	start bare "$work/bin/memserver" -addr "127.0.0.1:$port" "${capture[@]}"
	wait_http "$bare/-/requests"
	loads=$(product_loads)

	local round row t check
	for ((round = 1; round <= ROUNDS; round++)); do
		for row in "GET /products/1 (cache hit)" "GET /api/limited, 1 client" \
			"GET /api/limited, 1,000 clients" "GET /articles/hello-redis, 1,000 clients"; do
			for t in $(rotate "$round" service bare); do
				local base=$service
				[[ $t == bare ]] && base=$bare
				check=-
				[[ $t == service ]] && check=service_failures
				case $row in
				*products*) measure service "$round" "$row" "$t" "$check" "$base/products/1" ;;
				*"1 client") measure service "$round" "$row" "$t" "$check" "$base/api/limited" ;;
				*limited*) measure service "$round" "$row" "$t" "$check" "$base/api/limited" clients 1000 ;;
				*articles*) measure service "$round" "$row" "$t" "$check" "$base/articles/hello-redis" clients 1000 ;;
				esac
			done
		done
	done
	sleep 1.5 # one flush interval, and some
	views=$(curl -sf "$service/articles/hello-redis/views")
	loads=$(($(product_loads) - loads))
}

install_missing
mkdir -p "$OUT" "$work/wrk"
build
start_redis

{
	echo "# rediskit HTTP benchmarks, $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git -C "$root" rev-parse --short HEAD)"
	echo "# wrk -t$THREADS -c$CONNS -d${DURATION}s, $ROUNDS rounds, $(nproc) CPUs, load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "# $(go version | cut -d' ' -f3), redis $(redis-server --version | grep -o 'v=[0-9.]*' | cut -d= -f2), $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2)"
	echo "# part round row target req/s p99-us requests non-2xx socket-errors check"
} >"$OUT/results.tsv"

started=$SECONDS
for part in "${parts[@]}"; do
	"${part}_part"
done

{
	sed -n '1,3s/^# //p' "$OUT/results.tsv"
	if [[ " ${parts[*]} " == *" cache "* ]]; then
		echo "nginx $(nginx -v 2>&1 | cut -d/ -f2), $(varnishd -V 2>&1 | head -1 | cut -d'(' -f2 | cut -d' ' -f1)"
	fi
	echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg); run took $((SECONDS - started)) s"
	for t in cacheproxy cacheproxy-local; do
		[[ -f $work/$t.log ]] || continue
		f=$work/$t.log
		echo "$t: warnings logged: $(grep -c 'level=WARN' "$f" || true):" \
			"$(grep 'level=WARN' "$f" | grep -c 'deadline exceeded\|timed out' || true) Redis timeouts" \
			"(the request then goes to the origin)," \
			"$(grep 'level=WARN' "$f" | grep -c 'context canceled' || true) requests whose client went away" \
			"(wrk stopping mid-request)"
	done
	if [[ -n "${views:-}" ]]; then
		echo "service: catalog loads during the measured rounds (memo TTL 1 min): $loads"
		echo "service: views of hello-redis at the end (1,001 visitors: 1,000 X-Forwarded-For clients and the capture's curl): $views"
	fi
	"$work/bin/report" "$OUT/results.tsv"
} >"$OUT/report.md"
cat "$OUT/report.md"
log "raw windows in $OUT/results.tsv, tables in $OUT/report.md (wrk's output: KEEP=1)"
