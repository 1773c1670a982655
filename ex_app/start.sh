#!/bin/sh
# Container entrypoint. Under HaRP (HP_SHARED_KEY set) the app listens on a unix socket and an frp
# client carries HaRP's traffic to it; everywhere else the app listens on APP_HOST:APP_PORT.
set -eu

if [ -n "${HP_SHARED_KEY:-}" ]; then
  if ! command -v frpc >/dev/null 2>&1; then
    echo "HP_SHARED_KEY is set but frpc is missing from the image: HaRP cannot reach the app" >&2
    exit 1
  fi
  conf="${APP_PERSISTENT_STORAGE:-/tmp}/frpc.toml"
  if [ -d /certs/frp ]; then
    tls="transport.tls.enable = true
transport.tls.certFile = \"/certs/frp/client.crt\"
transport.tls.keyFile = \"/certs/frp/client.key\"
transport.tls.trustedCaFile = \"/certs/frp/ca.crt\"
transport.tls.serverName = \"harp.nc\""
  else
    tls="transport.tls.enable = false"
  fi
  umask 077  # the file holds the shared key
  cat > "$conf" <<CONF
serverAddr = "${HP_FRP_ADDRESS}"
serverPort = ${HP_FRP_PORT}
loginFailExit = false
${tls}
metadatas.token = "${HP_SHARED_KEY}"

[[proxies]]
name = "${APP_ID:-assistant_stream}"
type = "tcp"
remotePort = ${APP_PORT}
[proxies.plugin]
type = "unix_domain_socket"
unixPath = "${HP_EXAPP_SOCK:-/tmp/exapp.sock}"
CONF
  frpc -c "$conf" >/dev/null 2>&1 &
fi

exec python -m assistant_stream
