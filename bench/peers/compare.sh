#!/usr/bin/env bash
# bench/peers/compare.sh: lbd next to HAProxy and nginx (stream), side by side, on loopback.
#
# Starts, all on 127.0.0.1:
#   - backends: one nginx instance (http) listening on 3 ports (19001..19003 when free), each
#     answering GET / with a static 1 KiB body (`return 200`, no file I/O, no access log) and a
#     header X-Backend: <port>; plus one `iperf3 -s` for the bulk test;
#   - the balancers, each on its own port, round-robin over the same 3 backends, and each with a
#     second listener forwarding to the iperf3 server:
#       lbd      proxy mode, scheduler rr, global.workers = W
#       haproxy  mode tcp, balance roundrobin, nbthread W
#       nginx    stream module, proxy_pass to an upstream (round-robin), worker_processes W
#     and "direct": wrk / iperf3 straight to ONE backend port (19001), no balancer.
# Measures, alternating targets within every round (lbd haproxy nginx direct, lbd haproxy ...):
#   wrk keep-alive        wrk -tT -cC -dDs --latency URL
#   wrk connection close  the same with -H 'Connection: close' (one TCP connection per request)
#   iperf3 bulk           iperf3 -c 127.0.0.1 -p PORT -t D -f g
# and reports the median over the rounds, ratios to HAProxy and to direct, and the CPU each
# balancer burnt while doing it, as a table on stdout and in bench/peers/results.md.
#
# Everything it starts is stopped by PID on exit; nothing is sent off the loopback interface.
set -euo pipefail

usage() {
  cat <<'EOF'
usage: bench/peers/compare.sh [--quick] [--rounds N] [--duration S] [--workers W]
                              [--connections C] [--threads T] [--out FILE]
                              [--no-install] [--no-build] [--keep-tmp]
  --quick          smoke test: 1 round, 2 s per run, results to bench/peers/results-quick.md
  --rounds N       rounds of A B C D alternation (default 3); the median is reported
  --duration S     seconds per wrk / iperf3 run (default 5)
  --workers W      worker threads/processes for every balancer (default 2)
  --connections C  wrk connections (default 64); --threads T: wrk threads (default 2)
  --out FILE       where to write the markdown report (default bench/peers/results.md)
  --no-install     do not apt-get install missing tools
  --no-build       do not (re)build lbd; use build-bench/lb/daemon/lbd as it is
  --keep-tmp       keep the temp dir (configs, logs, raw wrk/iperf3 output)
EOF
}

ROUNDS=3
DUR=5
WORKERS=2
CONNS=64
THREADS=2
QUICK=0
OUT=""
DO_INSTALL=1
DO_BUILD=1
KEEP_TMP=0
ARGS_ORIG="$*"
while (($#)); do
  case "$1" in
    --quick) QUICK=1; ROUNDS=1; DUR=2 ;;
    --rounds) ROUNDS=${2:?}; shift ;;
    --duration) DUR=${2:?}; shift ;;
    --workers) WORKERS=${2:?}; shift ;;
    --connections) CONNS=${2:?}; shift ;;
    --threads) THREADS=${2:?}; shift ;;
    --out) OUT=${2:?}; shift ;;
    --no-install) DO_INSTALL=0 ;;
    --no-build) DO_BUILD=0 ;;
    --keep-tmp) KEEP_TMP=1 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "compare.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
  esac
  shift
done
for v in ROUNDS DUR WORKERS CONNS THREADS; do
  [[ ${!v} =~ ^[1-9][0-9]*$ ]] || { echo "compare.sh: --${v,,} must be a positive integer" >&2; exit 2; }
done

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(git -C "$HERE" rev-parse --show-toplevel)
BUILD="$REPO/build-bench"
if [[ -z $OUT ]]; then
  if ((QUICK)); then OUT="$HERE/results-quick.md"; else OUT="$HERE/results.md"; fi
fi

log() { printf '[compare %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# ---------------------------------------------------------------- cleanup (by PID only)
PIDS=()        # every long-running process this script started
TMP=$(mktemp -d /tmp/lbd-peers.XXXXXX)
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  local all=() pid child
  for pid in "${PIDS[@]}"; do
    all+=("$pid")
    # nginx masters: remember their workers too, in case the master dies first
    for child in $(ps -o pid= --ppid "$pid" 2>/dev/null); do all+=("$child"); done
  done
  for pid in "${all[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  local i alive
  for ((i = 0; i < 50; i++)); do          # at most 5 s
    alive=0
    for pid in "${all[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    ((alive)) || break
    sleep 0.1
  done
  for pid in "${all[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  if ((KEEP_TMP)); then log "temp dir kept: $TMP"; else rm -rf "$TMP"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- tools
nginx_stream_module() {   # prints the load_module line needed (maybe empty); fails if none
  local v
  v=$(nginx -V 2>&1) || return 1
  if grep -q -- '--with-stream=dynamic' <<<"$v"; then
    local so
    for so in /usr/lib/nginx/modules/ngx_stream_module.so /usr/share/nginx/modules/ngx_stream_module.so; do
      [[ -f $so ]] && { echo "load_module $so;"; return 0; }
    done
    return 1
  elif grep -q -- '--with-stream\b' <<<"$v"; then
    echo ""; return 0
  fi
  return 1
}

install_tools() {
  local need=()
  command -v haproxy >/dev/null || need+=(haproxy)
  command -v nginx >/dev/null || need+=(nginx)
  # Debian 12: the stream module is the separate package libnginx-mod-stream
  if ! command -v nginx >/dev/null || ! nginx_stream_module >/dev/null; then need+=(libnginx-mod-stream); fi
  command -v wrk >/dev/null || need+=(wrk)
  command -v iperf3 >/dev/null || need+=(iperf3)
  command -v ss >/dev/null || need+=(iproute2)
  command -v cmake >/dev/null || need+=(cmake)
  ((${#need[@]})) || return 0
  ((DO_INSTALL)) || die "missing: ${need[*]} (and --no-install given)"
  log "installing: ${need[*]}"
  local apt=(apt-get install -y -q -o DPkg::Lock::Timeout=300 "${need[@]}")
  if ! DEBIAN_FRONTEND=noninteractive timeout 900 "${apt[@]}" >"$TMP/apt.log" 2>&1; then
    DEBIAN_FRONTEND=noninteractive timeout 600 apt-get update -q -o DPkg::Lock::Timeout=300 >>"$TMP/apt.log" 2>&1 || true
    DEBIAN_FRONTEND=noninteractive timeout 900 "${apt[@]}" >>"$TMP/apt.log" 2>&1 ||
      { tail -20 "$TMP/apt.log" >&2; die "apt-get install ${need[*]} failed"; }
  fi
}

build_lbd() {
  if ((DO_BUILD)); then
    log "building lbd (Release) in $BUILD"
    cmake -S "$REPO" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DLBD_BUILD_TESTS=OFF \
      -DLBD_BUILD_BENCH=OFF -DLBD_BUILD_EXAMPLES=OFF -DLBD_WERROR=OFF >"$TMP/cmake.log" 2>&1 ||
      { tail -30 "$TMP/cmake.log" >&2; die "cmake configure failed"; }
    timeout 1800 cmake --build "$BUILD" --target lbd lbctl -j2 >>"$TMP/cmake.log" 2>&1 ||
      { tail -30 "$TMP/cmake.log" >&2; die "lbd build failed"; }
  fi
  [[ -x $BUILD/lb/daemon/lbd ]] || die "$BUILD/lb/daemon/lbd not found"
  LBD="$BUILD/lb/daemon/lbd"
  LBCTL="$BUILD/lb/daemon/lbctl"
}

# ---------------------------------------------------------------- ports
USED_PORTS=" "
port_free() { ! ss -Htln "( sport = :$1 )" 2>/dev/null | grep -q .; }
# pick_port VAR BASE: the first free port >= BASE not already taken by this script
pick_port() {
  local -n _var=$1
  local p=$2 n
  for ((n = 0; n < 500; n++, p++)); do
    if [[ $USED_PORTS != *" $p "* ]] && port_free "$p"; then
      USED_PORTS+="$p "
      _var=$p
      return 0
    fi
  done
  die "no free port from $2"
}
wait_listen() {   # wait_listen PORT PID NAME: bounded (10 s)
  local i
  for ((i = 0; i < 100; i++)); do
    ss -Htln "( sport = :$1 )" 2>/dev/null | grep -q . && return 0
    kill -0 "$2" 2>/dev/null || { tail -20 "$TMP/$3.log" >&2 || true; die "$3 exited during start"; }
    sleep 0.1
  done
  tail -20 "$TMP/$3.log" >&2 || true
  die "$3 does not listen on 127.0.0.1:$1 after 10 s"
}

declare -A PIDOF   # name -> PID
start_bg() {   # start_bg NAME CMD...: output to $TMP/NAME.log, PID recorded
  local name=$1; shift
  "$@" >"$TMP/$name.log" 2>&1 &
  local pid=$!
  PIDS+=("$pid")
  PIDOF[$name]=$pid
}

# ---------------------------------------------------------------- configs
write_configs() {
  local body
  body=$(head -c 1024 /dev/zero | tr '\0' 'x')
  mkdir -p "$TMP/be" "$TMP/ngx"
  cat >"$TMP/be/nginx.conf" <<EOF
# backends: static 1 KiB answer on 3 ports
daemon off;
master_process on;
worker_processes $BE_WORKERS;
pid $TMP/be/nginx.pid;
error_log $TMP/be/error.log warn;
events { worker_connections 16384; }
http {
  access_log off;
  keepalive_requests 100000000;
  keepalive_timeout 300s;
  client_body_temp_path $TMP/be/body;
  proxy_temp_path $TMP/be/proxy;
  fastcgi_temp_path $TMP/be/fastcgi;
  uwsgi_temp_path $TMP/be/uwsgi;
  scgi_temp_path $TMP/be/scgi;
  default_type text/plain;
  server {
    listen 127.0.0.1:$BE1 backlog=4096 reuseport;
    listen 127.0.0.1:$BE2 backlog=4096 reuseport;
    listen 127.0.0.1:$BE3 backlog=4096 reuseport;
    location / {
      add_header X-Backend \$server_port;
      return 200 "$body";
    }
  }
}
EOF

  cat >"$TMP/lbd.yaml" <<EOF
global:
  workers: $WORKERS
  control_socket: $TMP/lbd.sock
  drain_timeout: 1s
virtual_services:
  - name: http
    listen: 127.0.0.1:$P_LBD
    scheduler: rr
    forwarding: proxy
    timeouts: {connect: 2s, idle: 300s}
    real_servers:
      - {address: 127.0.0.1:$BE1}
      - {address: 127.0.0.1:$BE2}
      - {address: 127.0.0.1:$BE3}
  - name: iperf
    listen: 127.0.0.1:$PI_LBD
    scheduler: rr
    forwarding: proxy
    timeouts: {connect: 2s, idle: 300s}
    real_servers:
      - {address: 127.0.0.1:$IPERF}
EOF

  cat >"$TMP/haproxy.cfg" <<EOF
global
  nbthread $WORKERS
  maxconn $MAXCONN
defaults
  mode tcp
  timeout connect 2s
  timeout client 300s
  timeout server 300s
frontend http
  bind 127.0.0.1:$P_HAP
  default_backend http
backend http
  balance roundrobin
  server b1 127.0.0.1:$BE1
  server b2 127.0.0.1:$BE2
  server b3 127.0.0.1:$BE3
frontend iperf
  bind 127.0.0.1:$PI_HAP
  default_backend iperf
backend iperf
  server i1 127.0.0.1:$IPERF
EOF

  cat >"$TMP/ngx/nginx.conf" <<EOF
# nginx as an L4 balancer (stream module)
$NGX_LOAD_STREAM
daemon off;
master_process on;
worker_processes $WORKERS;
worker_rlimit_nofile $NOFILE;
pid $TMP/ngx/nginx.pid;
error_log $TMP/ngx/error.log warn;
events { worker_connections $MAXCONN; }
stream {
  upstream http { zone http 64k; server 127.0.0.1:$BE1; server 127.0.0.1:$BE2; server 127.0.0.1:$BE3; }
  upstream iperf { zone iperf 64k; server 127.0.0.1:$IPERF; }
  server { listen 127.0.0.1:$P_NGX backlog=4096 reuseport; proxy_pass http; proxy_timeout 300s; }
  server { listen 127.0.0.1:$PI_NGX backlog=4096 reuseport; proxy_pass iperf; proxy_timeout 300s; }
}
EOF
}

# ---------------------------------------------------------------- measurement helpers
# CPU ticks (utime+stime) of a process and of its direct children (nginx workers)
cpu_ticks() {
  local pid=$1 total=0 p f
  for p in "$pid" $(ps -o pid= --ppid "$pid" 2>/dev/null); do
    # fields after the ")" : state(3) ... utime(14) stime(15); strip "pid (comm) " first
    f=$(sed 's/^.*) //' "/proc/$p/stat" 2>/dev/null) || continue
    # shellcheck disable=SC2086
    set -- $f
    total=$((total + ${12} + ${13}))
  done
  echo "$total"
}
CLK_TCK=$(getconf CLK_TCK)

to_ms() {   # 812.00us | 3.45ms | 1.02s | 2.00m -> milliseconds
  awk -v v="$1" 'BEGIN {
    if (v == "") { print "nan"; exit }
    n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
    if (u == "us") n /= 1000; else if (u == "s") n *= 1000; else if (u == "m") n *= 60000
    printf "%.3f\n", n }'
}

# run_wrk PORT MODE -> sets W_RPS W_P99 W_ERR; raw output kept in $TMP/raw
run_wrk() {
  local port=$1 mode=$2 out="$TMP/raw/wrk-$3.txt"
  local hdr=()
  [[ $mode == close ]] && hdr=(-H 'Connection: close')
  timeout $((DUR + 30)) wrk -t"$THREADS" -c"$CONNS" -d"${DUR}s" --latency "${hdr[@]}" \
    "http://127.0.0.1:$port/" >"$out" 2>&1 || true
  W_RPS=$(awk '/^Requests\/sec:/ {print $2}' "$out")
  W_P99=$(to_ms "$(awk '$1 == "99%" {print $2}' "$out")")
  W_ERR=$(awk '/Socket errors:/ {gsub(",", ""); e += $4 + $6 + $8 + $10}
               /Non-2xx or 3xx/ {e += $NF} END {print e + 0}' "$out")
  [[ -n $W_RPS ]] || W_RPS=0
}

# run_iperf PORT -> sets I_GBPS
run_iperf() {
  local port=$1 out="$TMP/raw/iperf-$2.txt"
  timeout $((DUR + 30)) iperf3 -c 127.0.0.1 -p "$port" -t "$DUR" -f g --connect-timeout 3000 \
    >"$out" 2>&1 || true
  I_GBPS=$(awk '/receiver/ {for (i = 1; i <= NF; i++) if ($i == "Gbits/sec") print $(i - 1)}' "$out" | tail -1)
  [[ -n $I_GBPS ]] || I_GBPS=0
}

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR] = $1} END {
  if (NR == 0) { print "nan"; exit }
  if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

# round-robin sanity: N requests, print the distinct X-Backend values seen
probe_backends() {
  local port=$1 i seen=""
  for ((i = 0; i < 6; i++)); do
    local b
    b=$(timeout 3 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port &&
        printf 'GET / HTTP/1.0\r\nHost: x\r\n\r\n' >&3 && cat <&3" 2>/dev/null |
        tr -d '\r' | awk -F': ' 'tolower($1) == "x-backend" {print $2}') || true
    seen+="${b:-none} "
  done
  tr ' ' '\n' <<<"$seen" | grep -v '^$' | sort | uniq -c | awk '{printf "%s%s x%s", (NR > 1 ? ", " : ""), $2, $1}'
}

# ---------------------------------------------------------------- main
install_tools
NGX_LOAD_STREAM=$(nginx_stream_module) || die "nginx has no stream module (install libnginx-mod-stream)"
build_lbd
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
NOFILE=$(ulimit -n)
[[ $NOFILE == unlimited ]] && NOFILE=65536
MAXCONN=$(( (NOFILE - 256) / 2 ))   # a proxied connection holds 2 descriptors
((MAXCONN > 100000)) && MAXCONN=100000
mkdir -p "$TMP/raw"

BE_WORKERS=$WORKERS
pick_port BE1 19001; pick_port BE2 19002; pick_port BE3 19003
pick_port P_LBD 19080; pick_port P_HAP 19081; pick_port P_NGX 19082
pick_port IPERF 19201
pick_port PI_LBD 19211; pick_port PI_HAP 19212; pick_port PI_NGX 19213
write_configs

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
log "load average before: $LOAD_BEFORE"
log "ports: backends $BE1,$BE2,$BE3  lbd $P_LBD  haproxy $P_HAP  nginx $P_NGX  iperf3 $IPERF (via $PI_LBD,$PI_HAP,$PI_NGX)"

start_bg backend nginx -p "$TMP/be" -e "$TMP/be/error.log" -c "$TMP/be/nginx.conf"
start_bg iperf3 iperf3 -s -B 127.0.0.1 -p "$IPERF"
start_bg lbd "$LBD" -c "$TMP/lbd.yaml"
haproxy -c -q -f "$TMP/haproxy.cfg" >"$TMP/haproxy-check.log" 2>&1 || { cat "$TMP/haproxy-check.log" >&2; die "haproxy config"; }
start_bg haproxy haproxy -db -f "$TMP/haproxy.cfg"
start_bg nginx nginx -p "$TMP/ngx" -e "$TMP/ngx/error.log" -c "$TMP/ngx/nginx.conf"
wait_listen "$BE1" "${PIDOF[backend]}" backend; wait_listen "$BE3" "${PIDOF[backend]}" backend
wait_listen "$IPERF" "${PIDOF[iperf3]}" iperf3
wait_listen "$P_LBD" "${PIDOF[lbd]}" lbd; wait_listen "$PI_LBD" "${PIDOF[lbd]}" lbd
wait_listen "$P_HAP" "${PIDOF[haproxy]}" haproxy; wait_listen "$PI_HAP" "${PIDOF[haproxy]}" haproxy
wait_listen "$P_NGX" "${PIDOF[nginx]}" nginx; wait_listen "$PI_NGX" "${PIDOF[nginx]}" nginx

TARGETS=(lbd haproxy nginx direct)
declare -A PORT=([lbd]=$P_LBD [haproxy]=$P_HAP [nginx]=$P_NGX [direct]=$BE1)
declare -A IPORT=([lbd]=$PI_LBD [haproxy]=$PI_HAP [nginx]=$PI_NGX [direct]=$IPERF)
declare -A PROC=([lbd]=${PIDOF[lbd]} [haproxy]=${PIDOF[haproxy]} [nginx]=${PIDOF[nginx]} [direct]=${PIDOF[backend]})

declare -A PROBE
for t in "${TARGETS[@]}"; do
  PROBE[$t]=$(probe_backends "${PORT[$t]}")
  log "probe $t: ${PROBE[$t]}"
  [[ ${PROBE[$t]} == *none* ]] && die "$t: a request through 127.0.0.1:${PORT[$t]} got no answer (see --keep-tmp logs)"
done

# warm-up: 1 s keep-alive per target (not recorded)
for t in "${TARGETS[@]}"; do
  timeout 20 wrk -t1 -c8 -d1s "http://127.0.0.1:${PORT[$t]}/" >/dev/null 2>&1 || true
done

declare -A R   # R[target,metric] = space-separated values over rounds
add() { R[$1,$2]="${R[$1,$2]:-} $3"; }
START_UTC=$(date -u '+%Y-%m-%d %H:%M:%S UTC')
DIED=""
for ((r = 1; r <= ROUNDS; r++)); do
  for test in ka close iperf; do
    for t in "${TARGETS[@]}"; do
      c0=$(cpu_ticks "${PROC[$t]}")
      if [[ $test == iperf ]]; then
        run_iperf "${IPORT[$t]}" "$t-r$r"
        add "$t" iperf "$I_GBPS"
        msg="$I_GBPS Gbit/s"
      else
        run_wrk "${PORT[$t]}" "$test" "$t-$test-r$r"
        add "$t" "$test" "$W_RPS"; add "$t" "${test}_p99" "$W_P99"; add "$t" "${test}_err" "$W_ERR"
        msg="$W_RPS req/s p99 ${W_P99} ms errors $W_ERR"
      fi
      c1=$(cpu_ticks "${PROC[$t]}")
      cpu=$(awk -v a="$c0" -v b="$c1" -v hz="$CLK_TCK" -v d="$DUR" 'BEGIN {printf "%.2f", (b - a) / hz / d}')
      add "$t" "${test}_cpu" "$cpu"
      log "round $r/$ROUNDS $test $t: $msg (process CPU $cpu cores)"
      if ! kill -0 "${PROC[$t]}" 2>/dev/null; then
        DIED+="$t died during round $r $test; "
        log "ERROR: $t (pid ${PROC[$t]}) is gone; log tail:"
        tail -20 "$TMP/$t.log" >&2 || true
      fi
    done
  done
done
END_UTC=$(date -u '+%Y-%m-%d %H:%M:%S UTC')
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
log "load average after: $LOAD_AFTER"

# ---------------------------------------------------------------- report
declare -A M
for t in "${TARGETS[@]}"; do
  for m in ka ka_p99 ka_err ka_cpu close close_p99 close_err close_cpu iperf iperf_cpu; do
    # shellcheck disable=SC2086
    M[$t,$m]=$(median ${R[$t,$m]})
  done
done
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 == 0) print "-"; else printf "%.2f", a / b }'; }
fmt0() { awk -v a="$1" 'BEGIN { printf "%.0f", a }'; }

table() {
  echo "| target | req/s keep-alive | p99 ms | req/s conn-close | p99 ms | iperf3 Gbit/s | vs HAProxy (ka / close / iperf) | vs direct (ka / close / iperf) |"
  echo "|---|---:|---:|---:|---:|---:|---|---|"
  local t
  for t in "${TARGETS[@]}"; do
    printf '| %s | %s | %s | %s | %s | %s | %s / %s / %s | %s / %s / %s |\n' "$t" \
      "$(fmt0 "${M[$t,ka]}")" "${M[$t,ka_p99]}" "$(fmt0 "${M[$t,close]}")" "${M[$t,close_p99]}" "${M[$t,iperf]}" \
      "$(ratio "${M[$t,ka]}" "${M[haproxy,ka]}")" "$(ratio "${M[$t,close]}" "${M[haproxy,close]}")" \
      "$(ratio "${M[$t,iperf]}" "${M[haproxy,iperf]}")" \
      "$(ratio "${M[$t,ka]}" "${M[direct,ka]}")" "$(ratio "${M[$t,close]}" "${M[direct,close]}")" \
      "$(ratio "${M[$t,iperf]}" "${M[direct,iperf]}")"
  done
}
cpu_table() {
  echo "| target | CPU ka (cores) | req per CPU-s ka | CPU close (cores) | req per CPU-s close | CPU iperf3 (cores) | wrk errors ka / close (median) |"
  echo "|---|---:|---:|---:|---:|---:|---|"
  local t
  for t in "${TARGETS[@]}"; do
    printf '| %s | %s | %s | %s | %s | %s | %s / %s |\n' "$t" \
      "${M[$t,ka_cpu]}" "$(ratio "${M[$t,ka]}" "${M[$t,ka_cpu]}" | awk '{printf "%.0f", $1}')" \
      "${M[$t,close_cpu]}" "$(ratio "${M[$t,close]}" "${M[$t,close_cpu]}" | awk '{printf "%.0f", $1}')" \
      "$([[ $t == direct ]] && echo - || echo "${M[$t,iperf_cpu]}")" \
      "$(fmt0 "${M[$t,ka_err]}")" "$(fmt0 "${M[$t,close_err]}")"
  done
}
raw_table() {
  echo "| target | metric | per round |"
  echo "|---|---|---|"
  local t m
  for t in "${TARGETS[@]}"; do
    for m in ka ka_p99 ka_err close close_p99 close_err iperf; do
      echo "| $t | $m |${R[$t,$m]} |"
    done
  done
}

LBD_COMMIT=$(git -C "$REPO" rev-parse --short HEAD)
LBD_DIRTY=$(git -C "$REPO" status --porcelain -- lb conf schedulers healthcheck CMakeLists.txt | wc -l)
((LBD_DIRTY)) && LBD_COMMIT+=" + uncommitted changes in the work tree: $(git -C "$REPO" status --porcelain -- lb conf schedulers healthcheck CMakeLists.txt | awk '{printf "%s%s", (NR > 1 ? ", " : ""), $2}')"
((DO_BUILD)) || LBD_COMMIT+=" (--no-build: the binary may be older than this)"
CPU_MODEL=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
LBCTL_STATS=$(timeout 5 "$LBCTL" -s "$TMP/lbd.sock" stats 2>&1 || true)
LBD_WARN=$(grep -ci -E 'warn|error' "$TMP/lbd.log" || true)

{
  echo "# lbd vs HAProxy vs nginx (stream): results"
  echo
  if ((QUICK)); then echo "**QUICK smoke run (1 round, 2 s): not a measurement.**"; echo; fi
  echo "- command: \`bench/peers/compare.sh${ARGS_ORIG:+ $ARGS_ORIG}\`"
  echo "- run: $START_UTC .. $END_UTC; $ROUNDS round(s), ${DUR} s per run, targets alternated lbd, haproxy, nginx, direct within each round; median over rounds"
  echo "- load average (1/5/15 min): before $LOAD_BEFORE, after $LOAD_AFTER"
  echo "- machine: nproc $(nproc), $CPU_MODEL, kernel $(uname -r)"
  echo "- sysctl: somaxconn $(sysctl -n net.core.somaxconn 2>/dev/null), tcp_tw_reuse $(sysctl -n net.ipv4.tcp_tw_reuse 2>/dev/null), ip_local_port_range $(sysctl -n net.ipv4.ip_local_port_range 2>/dev/null | tr '\t' '-')"
  echo "- versions: $(haproxy -v 2>&1 | head -1); $(nginx -v 2>&1 | head -1); $(wrk -v 2>&1 | head -1 | awk '{print $1, $2}'); $(iperf3 --version 2>&1 | head -1 | awk '{print $1, $2}'); lbd $("$LBD" --version 2>&1 | head -1) at commit $LBD_COMMIT (Release, build-bench)"
  echo "- workers: $WORKERS for every balancer (lbd global.workers, haproxy nbthread, nginx worker_processes); backend nginx worker_processes $BE_WORKERS"
  echo "- wrk: \`wrk -t$THREADS -c$CONNS -d${DUR}s --latency http://127.0.0.1:PORT/\`, conn-close adds \`-H 'Connection: close'\`; iperf3: \`iperf3 -c 127.0.0.1 -p PORT -t $DUR -f g\` (one stream, receiver rate)"
  echo "- backends: one nginx (http) on 127.0.0.1:$BE1,$BE2,$BE3, static 1 KiB body via \`return 200\`; direct = wrk straight to 127.0.0.1:$BE1 (one backend port, all backend workers); iperf3 -s on 127.0.0.1:$IPERF"
  echo "- round-robin probe (6 HTTP/1.0 requests each): $(for t in lbd haproxy nginx; do printf '%s: %s; ' "$t" "${PROBE[$t]}"; done)"
  [[ -n $DIED ]] && echo "- **PROCESS DIED: $DIED**"
  echo
  echo "## Throughput and latency (median of $ROUNDS)"
  echo
  table
  echo
  echo "## CPU burnt by the target process during each run (utime+stime of the balancer; for direct: of the backend nginx, and nothing for iperf3)"
  echo
  cpu_table
  echo
  echo "## Every round"
  echo
  raw_table
  echo
  echo "## lbd after the run"
  echo
  echo "lbd log lines with warn/error: $LBD_WARN"
  echo
  echo '```'
  echo "$LBCTL_STATS"
  echo '```'
} >"$OUT.tmp"
mv "$OUT.tmp" "$OUT"

echo
table
echo
cpu_table
echo
log "report written to $OUT"
[[ -z $DIED ]] || die "$DIED"
