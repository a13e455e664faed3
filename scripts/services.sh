#!/usr/bin/env bash
# The demo hall's services under var/: Redis (AOF on), Mosquitto (users + ACL) and the queue
# server. `services.sh start` starts what is not running; `services.sh stop` stops them all.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
VAR=${HALLCALL_VAR:-$ROOT/var}
REDIS_PORT=${HALLCALL_REDIS_PORT:-6390}
MQTT_PORT=${HALLCALL_MQTT_PORT:-1884}
HTTP=${HALLCALL_HTTP:-127.0.0.1:8080}
SMS_LISTEN=${HALLCALL_SMS_LISTEN:-127.0.0.1:8091}
USERS="hallcall-server hallcall-display hallcall-window hallcall-sms"
MOSQUITTO=$(command -v mosquitto || echo /usr/sbin/mosquitto)

# A pid file names a running service only if that pid runs the program named (`name` in its
# command line): after a crash the pid may be gone, reused by another program, or a zombie
# that kill -0 still finds (a killed daemon stays one until PID 1 reaps it; its command line
# is empty).
alive() {  # pidfile, name
  local pid
  pid=$(cat "$1" 2>/dev/null) || return 1
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$2"
}

end() {  # pidfile, name: stop that program and wait until it is gone (then the pid file goes)
  local _
  if alive "$1" "$2"; then
    kill "$(cat "$1")" 2>/dev/null || true
    for _ in $(seq 100); do alive "$1" "$2" || break; sleep 0.1; done
    if alive "$1" "$2"; then kill -9 "$(cat "$1")" 2>/dev/null || true; fi
  fi
  rm -f "$1"
}

wait_redis() {  # until Redis answers PING (it refuses commands while loading its AOF)
  local _
  for _ in $(seq 600); do
    [ "$(redis-cli -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ] && return 0
    [ -s "$VAR/redis/redis.pid" ] && ! alive "$VAR/redis/redis.pid" redis-server && break
    sleep 0.1
  done
  echo "redis-server did not start on port $REDIS_PORT; see $VAR/log/redis.log" >&2
  exit 1
}

wait_port() {  # port, name
  for _ in $(seq 100); do
    (echo >"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "$2 did not start on port $1; see $VAR/log/" >&2
  exit 1
}

secrets() {  # one password per program user, made once, kept in var/secrets.env (mode 600)
  mkdir -p "$VAR/mosquitto" "$VAR/redis" "$VAR/log"
  if [ ! -s "$VAR/secrets.env" ]; then
    umask 077
    : >"$VAR/secrets.env"
    : >"$VAR/mosquitto/passwd"
    for u in $USERS; do
      pw=$(python3 -c 'import secrets; print(secrets.token_urlsafe(18))')
      echo "MQTT_PASSWORD_${u#hallcall-}=$pw" >>"$VAR/secrets.env"
      mosquitto_passwd -b "$VAR/mosquitto/passwd" "$u" "$pw"
    done
  fi
  if [ ! -s "$VAR/server.secret" ]; then  # HALLCALL_SECRET: keys the per-phone digests
    (umask 077; python3 -c 'import secrets; print(secrets.token_urlsafe(32))' >"$VAR/server.secret")
  fi
}

start() {
  secrets
  # shellcheck disable=SC1091
  . "$VAR/secrets.env"
  if ! alive "$VAR/redis/redis.pid" redis-server; then
    rm -f "$VAR/redis/redis.pid"  # stale: the new one is written once the server forked
    redis-server "$ROOT/config/redis.conf" --port "$REDIS_PORT" --dir "$VAR/redis" \
      --daemonize yes --pidfile "$VAR/redis/redis.pid" --logfile "$VAR/log/redis.log"
  fi
  wait_redis  # the server must not start before Redis answers: it exits when it cannot reach it
  if ! alive "$VAR/mosquitto/mosquitto.pid" mosquitto; then
    rm -f "$VAR/mosquitto/mosquitto.pid"
    sed -e "s#@PORT@#$MQTT_PORT#" -e "s#@DIR@#$VAR/mosquitto#g" -e "s#@ACL@#$ROOT/config/mosquitto/acl#" \
      "$ROOT/config/mosquitto/mosquitto.conf.in" >"$VAR/mosquitto/mosquitto.conf"
    "$MOSQUITTO" -c "$VAR/mosquitto/mosquitto.conf" -d
    wait_port "$MQTT_PORT" mosquitto
  fi
  end "$VAR/queue-server.pid" queue-server  # a restart: the old one must free the port first
  HALLCALL_REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0" \
  HALLCALL_MQTT_URL="mqtt://hallcall-server:$MQTT_PASSWORD_server@127.0.0.1:$MQTT_PORT" \
  HALLCALL_HTTP="$HTTP" \
  HALLCALL_SECRET_FILE="$VAR/server.secret" \
    nohup "$ROOT/.venv/bin/queue-server" >>"$VAR/log/queue-server.log" 2>&1 &
  echo $! >"$VAR/queue-server.pid"
  for _ in $(seq 100); do
    curl -fs "http://$HTTP/healthz" >/dev/null 2>&1 && window_clients && start_displays && start_sms && return 0
    alive "$VAR/queue-server.pid" queue-server || break
    sleep 0.1
  done
  echo "queue-server did not start:" >&2
  tail -n 5 "$VAR/log/queue-server.log" >&2
  exit 1
}

window_clients() {  # window 3's caller panel and rating pad, headless: PNGs in var/snapshots
  local prog
  for prog in panel pad; do
    end "$VAR/window-$prog.pid" window-client
    HALLCALL_SERVER_URL="http://$HTTP" HALLCALL_WINDOW_TOKEN=demo-window-3 \
    HALLCALL_PAD_TOKEN=demo-pad-3 \
    HALLCALL_MQTT_URL="mqtt://hallcall-window:$MQTT_PASSWORD_window@127.0.0.1:$MQTT_PORT" \
      nohup "$ROOT/.venv/bin/window-client" "$prog" --hall demo --window 3 \
        --snapshot "$VAR/snapshots" >>"$VAR/log/window-$prog.log" 2>&1 &
    echo $! >"$VAR/window-$prog.pid"
  done
}

# display_client: a headless hall TV and window 3's LED strip, writing PNGs to var/screens/
# and each announcement as a WAV to var/audio/ (the clip pack is made once in var/voice-pack).
start_displays() {
  local url="mqtt://hallcall-display:$MQTT_PASSWORD_display@127.0.0.1:$MQTT_PORT" screen
  mkdir -p "$VAR/screens" "$VAR/audio"
  for screen in tv led-3; do
    end "$VAR/display-$screen.pid" display-client
    if [ "$screen" = tv ]; then
      args=(tv --audio-dir "$VAR/audio" --voice-pack "$VAR/voice-pack")
    else
      args=(led --window 3)
    fi
    HALLCALL_MQTT_URL="$url" nohup "$ROOT/.venv/bin/display-client" "${args[@]}" --hall demo \
      --headless --snapshot "$VAR/screens" >>"$VAR/log/display-$screen.log" 2>&1 &
    echo $! >"$VAR/display-$screen.pid"
  done
}

start_sms() {  # the SMS gateway, printing each message (phone masked) to var/log/sms-gateway.log
  end "$VAR/sms-gateway.pid" sms-gateway
  HALLCALL_MQTT_URL="mqtt://hallcall-sms:$MQTT_PASSWORD_sms@127.0.0.1:$MQTT_PORT" \
  HALLCALL_SERVER_URL="http://$HTTP" HALLCALL_SMS_TOKEN=demo-sms HALLCALL_SMS_LISTEN="$SMS_LISTEN" \
  HALLCALL_SMS_DATA="$VAR/sms" HALLCALL_SMS_PROVIDER=console \
    nohup "$ROOT/.venv/bin/sms-gateway" >>"$VAR/log/sms-gateway.log" 2>&1 &
  echo $! >"$VAR/sms-gateway.pid"
  for _ in $(seq 100); do
    curl -fs "http://$SMS_LISTEN/healthz" >/dev/null 2>&1 && return 0
    alive "$VAR/sms-gateway.pid" sms-gateway || break
    sleep 0.1
  done
  echo "sms-gateway did not start:" >&2
  tail -n 5 "$VAR/log/sms-gateway.log" >&2
  exit 1
}

stop() {  # the clients first, Redis last (the server flushes to it on the way out)
  end "$VAR/sms-gateway.pid" sms-gateway
  end "$VAR/window-panel.pid" window-client
  end "$VAR/window-pad.pid" window-client
  end "$VAR/display-tv.pid" display-client
  end "$VAR/display-led-3.pid" display-client
  end "$VAR/queue-server.pid" queue-server
  end "$VAR/mosquitto/mosquitto.pid" mosquitto
  end "$VAR/redis/redis.pid" redis-server
}

info() {
  # shellcheck disable=SC1091
  . "$VAR/secrets.env"
  cat <<INFO

hallcall demo hall is up.
  API            http://$HTTP/api/v1/halls/demo        (OpenAPI: http://$HTTP/api/v1/openapi.json)
  hall page      http://$HTTP/hall/demo   (English: ?lang=en)
  kiosk          http://$HTTP/kiosk/demo#token=demo-kiosk-1   (the kiosk keeps its token; tickets link their live status page /m/demo/t/…)
  phone page     http://$HTTP/m/demo   (take a ticket with a phone; book an appointment: /m/demo/book)
  guide desk     http://$HTTP/desk/demo#token=demo-desk-1   (any class, ID numbers)   service guides: /hall/demo/guide/A
  health         http://$HTTP/healthz   metrics: http://$HTTP/metrics
  Redis          redis://127.0.0.1:$REDIS_PORT (AOF in var/redis)
  MQTT           mqtt://127.0.0.1:$MQTT_PORT   users and passwords: var/secrets.env
  SMS gateway    console provider: texts in var/log/sms-gateway.log   metrics: http://$SMS_LISTEN/metrics
  logs           var/log/

Try it:
  curl -s -XPOST http://$HTTP/api/v1/halls/demo/tickets -H 'Authorization: Bearer demo-kiosk-1' -d '{"service":"A"}'
  curl -s -XPOST http://$HTTP/api/v1/halls/demo/tickets -d '{"service":"B","phone":"13800001111"}'
  curl -s -XPOST http://$HTTP/api/v1/halls/demo/windows/3/next -H 'Authorization: Bearer demo-window-3'
  .venv/bin/queue-server watch demo --mqtt-url 'mqtt://hallcall-display:$MQTT_PASSWORD_display@127.0.0.1:$MQTT_PORT'
Window 3 (panel and rating pad drawn headless to var/snapshots/panel-demo-3.png, pad-demo-3.png):
  export HALLCALL_SERVER_URL=http://$HTTP HALLCALL_WINDOW_TOKEN=demo-window-3
  HALLCALL_STAFF_PIN=1111 .venv/bin/window-client signin --hall demo --window 3 --staff 1001
  .venv/bin/window-client next --hall demo --window 3          # exit 3: nobody waiting
  .venv/bin/window-client finish --hall demo --window 3 --case BJ-0001   # the pad asks for a rating
  .venv/bin/window-client status --hall demo --window 3 --json
  .venv/bin/window-client pause --hall demo --window 3 --reason 午休
Hall screens (headless, redrawn as calls come; each spoken call as a WAV in var/audio/):
  var/screens/tv.png (hall TV, 1920x1080)   var/screens/led-3.png (window 3's LED strip)
Demo tokens: demo-window-1 … demo-window-7, demo-kiosk-1, demo-pad-1 … demo-pad-7, demo-manager,
demo-sms. Demo staff (id/PIN): 1001/1111, 1002/2222, 1003/3333.   Stop: make stop
INFO
}

"${1:-start}"
