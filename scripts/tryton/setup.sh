#!/usr/bin/env bash
# A real Tryton 6.0 ERP on loopback for the `tryton` connector's tests and the
# example: Debian's packages, a SQLite database with sale / stock / invoicing
# activated and the company and accounting basics in place, trytond serving it.
#
#   scripts/tryton/setup.sh [start]   install if needed, build the template once, start (no-op when running)
#   scripts/tryton/setup.sh stop      stop the server this script started
#   scripts/tryton/setup.sh reset     stop, fresh copy of the template, start
#   scripts/tryton/setup.sh status    print server.json when it answers, exit 1 otherwise
#
# Idempotent and fast the second time: initializing a database takes ~13 s, so
# an initialized, bootstrapped file is kept as a template (keyed by the
# installed trytond version and this folder's scripts) and each start copies it.
# Where it answers is written to $TRYTON_HOME/server.json, which the tests read:
#   {"url":"http://127.0.0.1:8000","database":"tryton","login":"admin",...}
#
# Environment: TRYTON_HOME (default /var/tmp/causeway-tryton, kept between runs),
# TRYTON_PORT (default 8000; a free port is taken when something else holds it),
# TRYTON_ADMIN_PASSWORD (default admin), TRYTON_CURRENCY (the company's, default EUR).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
home=${TRYTON_HOME:-/var/tmp/causeway-tryton}
port=${TRYTON_PORT:-8000}
password=${TRYTON_ADMIN_PASSWORD:-admin}
currency=${TRYTON_CURRENCY:-EUR}
db=tryton
py=/usr/bin/python3 # a pyenv python may shadow Debian's, which has trytond
packages=(tryton-server tryton-proteus tryton-modules-party tryton-modules-company tryton-modules-currency
  tryton-modules-country tryton-modules-product tryton-modules-stock tryton-modules-account
  tryton-modules-account-invoice tryton-modules-account-product tryton-modules-account-invoice-stock tryton-modules-sale)

log() { echo "tryton: $*" >&2; }

install_packages() {
  local missing=()
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # Without --no-install-recommends this pulls in PostgreSQL, LibreOffice and an MTA.
  apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
  # On a systemd host Debian starts its own trytond on :8000; ours is the one the tests use.
  if command -v systemctl >/dev/null && systemctl is-active --quiet tryton-server 2>/dev/null; then
    systemctl disable --now tryton-server || true
  fi
}

write_conf() { # dir listen
  cat >"$1/trytond.conf" <<EOF
[database]
uri = sqlite://
path = $1

[web]
listen = $2

[session]
timeout = 36000
EOF
}

template_key() {
  { dpkg-query -W -f='${Version}\n' tryton-server tryton-modules-sale tryton-modules-stock tryton-modules-account-invoice
    cat "$here/bootstrap.py"; echo "$currency $password"; } | sha256sum | cut -c1-16
}

build_template() {
  local key dir tmp
  key=$(template_key)
  dir="$home/template"
  if [ -f "$dir/$db.sqlite" ] && [ "$(cat "$dir/key" 2>/dev/null)" = "$key" ]; then return 0; fi
  log "building the database template (about 15 s)"
  mkdir -p "$home"
  tmp=$(mktemp -d "$home/template.XXXXXX")
  # Any failure leaves a half set-up database (proteus commits each call): throw it away.
  trap 'rm -rf "$tmp"; trap - RETURN' RETURN
  write_conf "$tmp" 127.0.0.1:0
  touch "$tmp/$db.sqlite" # the SQLite backend does not create the file
  printf '%s' "$password" >"$tmp/pass"
  TRYTONPASSFILE="$tmp/pass" trytond-admin -c "$tmp/trytond.conf" -d "$db" --all \
    -u sale account_invoice_stock --activate-dependencies --email admin@example.invalid \
    </dev/null >"$tmp/init.log" 2>&1 ||
    { tail -20 "$tmp/init.log" >&2; return 1; }
  (cd "$tmp" && "$py" "$here/bootstrap.py" "$tmp/trytond.conf" "$db" "$currency") >"$tmp/bootstrap.log" 2>&1 ||
    { tail -20 "$tmp/bootstrap.log" >&2; return 1; }
  rm -f "$tmp/pass"
  echo "$key" >"$tmp/key"
  rm -rf "$dir"
  mv "$tmp" "$dir"
}

pid_alive() { [ -f "$home/run/trytond.pid" ] && kill -0 "$(cat "$home/run/trytond.pid")" 2>/dev/null; }

answers() { # url
  curl -fsS -m 3 -H 'content-type: application/json' \
    -d '{"id":0,"method":"common.server.version","params":[]}' "$1/" >/dev/null 2>&1
}

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

free_port() { "$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

status() {
  [ -f "$home/server.json" ] && pid_alive || return 1
  local url
  url=$(sed -n 's/.*"url":"\([^"]*\)".*/\1/p' "$home/server.json")
  answers "$url" && cat "$home/server.json"
}

stop() {
  if pid_alive; then
    local pid
    pid=$(cat "$home/run/trytond.pid")
    kill "$pid"
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid" || true
  fi
  rm -f "$home/run/trytond.pid" "$home/server.json"
}

start() {
  # Running, and from the current template (a changed bootstrap.py or trytond upgrade restarts it).
  if status >/dev/null && grep -q "\"key\":\"$(template_key)\"" "$home/server.json"; then
    log "already running: $(cat "$home/server.json")"
    return 0
  fi
  stop
  install_packages
  build_template
  port_free "$port" || { log "port $port is taken"; port=$(free_port); }
  rm -rf "$home/run"
  mkdir -p "$home/run"
  cp "$home/template/$db.sqlite" "$home/run/$db.sqlite"
  write_conf "$home/run" "127.0.0.1:$port"
  # setsid: the server outlives this script and the CI step that ran it.
  setsid trytond -c "$home/run/trytond.conf" -d "$db" >"$home/run/trytond.log" 2>&1 </dev/null &
  echo $! >"$home/run/trytond.pid"
  local url="http://127.0.0.1:$port"
  for _ in $(seq 1 300); do
    answers "$url" && break
    pid_alive || { tail -20 "$home/run/trytond.log" >&2; log "trytond exited"; return 1; }
    sleep 0.1
  done
  answers "$url" || { log "trytond does not answer at $url"; return 1; }
  printf '{"url":"%s","database":"%s","login":"admin","password":"%s","pid":%s,"template":"%s","log":"%s","key":"%s"}\n' \
    "$url" "$db" "$password" "$(cat "$home/run/trytond.pid")" "$home/template/$db.sqlite" "$home/run/trytond.log" "$(cat "$home/template/key")" \
    >"$home/server.json"
  log "running: $(cat "$home/server.json")"
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  reset) stop && start ;;
  status) status ;;
  *) echo "usage: $0 [start|stop|reset|status]" >&2; exit 2 ;;
esac
