#!/usr/bin/env bash
# A real Gerrit for depcanary's tests and demos, from Maven Central, on loopback only.
#
#   scripts/ensure-gerrit.sh fetch                       # download once (cached in ~/.m2), idempotent
#   scripts/ensure-gerrit.sh start SITE [--owner-pid P] [--port N]
#                                                        # init SITE if new, start, wait; prints url=...
#   scripts/ensure-gerrit.sh stop SITE                   # stop what `start SITE` started
#
# What runs: the Gerrit WAR (com.google.gerrit:gerrit-war:$GERRIT_VERSION) when Maven Central
# serves it; otherwise the same server code from the artifacts Gerrit publishes there for
# plugins and acceptance tests (gerrit-plugin-api + gerrit-acceptance-framework, which
# together hold the daemon, init, Jetty and the REST API) plus Bouncy Castle. Either way it
# is Gerrit's own `init --batch --dev` and `daemon`, headless (no web UI), SSH off, HTTP on
# 127.0.0.1:<free port>. `start` writes SITE/depcanary-gerrit.env (GERRIT_URL, GERRIT_PID);
# the init-time admin account is `admin` with HTTP password `secret` (dev mode default),
# which the tests replace with a generated one through the REST API.
# With --owner-pid, a watchdog stops Gerrit when that process exits (a killed test run
# never leaves a JVM behind).
#
# Env: GERRIT_VERSION (3.10.2), GERRIT_HEAP (1g), GERRIT_START_TIMEOUT (240 s),
#      DEPCANARY_GERRIT_CACHE (~/.cache/depcanary/gerrit: launcher settings, never in the repo).
set -euo pipefail

GERRIT_VERSION=${GERRIT_VERSION:-3.10.2}
BC_VERSION=1.77
HEAP=${GERRIT_HEAP:-1g}
CACHE=${DEPCANARY_GERRIT_CACHE:-$HOME/.cache/depcanary/gerrit}
M2=${MAVEN_REPO:-$HOME/.m2/repository}
say() { echo "ensure-gerrit: $*" >&2; }
die() { say "$*"; exit 1; }

jar_of() { # group artifact version [packaging]
  local g=${1//.//} a=$2 v=$3 p=${4:-jar}
  echo "$M2/$g/$a/$v/$a-$v.$p"
}

mvn_get() { # group:artifact:version[:packaging]
  mvn -q -B -Dmaven.repo.local="$M2" dependency:get -Dtransitive=false -Dartifact="$1" >"$CACHE/mvn.log" 2>&1
}

# Java 17, Maven, curl and git from Debian when missing (as root, or with sudo).
ensure_tools() {
  local need=()
  command -v java >/dev/null 2>&1 || need+=(openjdk-17-jre-headless)
  command -v mvn >/dev/null 2>&1 || need+=(maven)
  command -v curl >/dev/null 2>&1 || need+=(curl)
  command -v git >/dev/null 2>&1 || need+=(git)
  [ ${#need[@]} -eq 0 ] && return 0
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || die "need ${need[*]}; install them (Gerrit $GERRIT_VERSION runs on Java 17)"
    sudo=sudo
  fi
  say "installing ${need[*]} with apt-get ..."
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq && $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null \
    || die "could not install ${need[*]}"
}

# Writes $CACHE/launcher-$GERRIT_VERSION: the java arguments before the program name.
fetch() {
  mkdir -p "$CACHE"
  local launcher="$CACHE/launcher-$GERRIT_VERSION"
  if [ -f "$launcher" ]; then
    local ok=1
    for f in $(tr ' :' '\n\n' <"$launcher" | grep -E '\.(war|jar)$'); do [ -f "$f" ] || ok=0; done
    [ $ok -eq 1 ] && return 0
  fi
  ensure_tools
  local war; war=$(jar_of com.google.gerrit gerrit-war "$GERRIT_VERSION" war)
  if [ ! -f "$war" ]; then
    say "downloading com.google.gerrit:gerrit-war:$GERRIT_VERSION with mvn dependency:get ..."
    mvn_get "com.google.gerrit:gerrit-war:$GERRIT_VERSION:war" || say "gerrit-war $GERRIT_VERSION is not on Maven Central here; using the plugin-api and acceptance-framework artifacts"
  fi
  if [ -f "$war" ]; then
    echo "-jar $war" >"$launcher"
    say "using $war"
    return 0
  fi
  local cp=() a
  for a in com.google.gerrit:gerrit-plugin-api:$GERRIT_VERSION com.google.gerrit:gerrit-acceptance-framework:$GERRIT_VERSION \
           org.bouncycastle:bcprov-jdk18on:$BC_VERSION org.bouncycastle:bcpkix-jdk18on:$BC_VERSION \
           org.bouncycastle:bcutil-jdk18on:$BC_VERSION org.bouncycastle:bcpg-jdk18on:$BC_VERSION; do
    IFS=: read -r g art v <<<"$a"
    local f; f=$(jar_of "$g" "$art" "$v")
    if [ ! -f "$f" ]; then
      say "downloading $a ..."
      local t0=$SECONDS
      mvn_get "$a" || { cat "$CACHE/mvn.log" >&2; die "could not download $a"; }
      say "  $(du -h "$f" | cut -f1) in $((SECONDS - t0)) s"
    fi
    cp+=("$f")
  done
  (IFS=:; echo "-cp ${cp[*]} com.google.gerrit.launcher.GerritLauncher") >"$launcher"
  say "Gerrit $GERRIT_VERSION ready to run from ${#cp[@]} jars in $M2"
}

java_args() {
  cat >"$CACHE/log4j.properties" <<'EOF'
log4j.rootLogger=INFO, console
log4j.appender.console=org.apache.log4j.ConsoleAppender
log4j.appender.console.target=System.err
log4j.appender.console.layout=org.apache.log4j.PatternLayout
log4j.appender.console.layout.ConversionPattern=[%d] %-5p %c : %m%n
EOF
  echo "-Xmx$HEAP -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Djava.net.preferIPv4Stack=true" \
       "-Dlog4j.configuration=file:$CACHE/log4j.properties" \
       "-Dflogger.backend_factory=com.google.common.flogger.backend.log4j.Log4jBackendFactory#getInstance" \
       "-Dflogger.logging_context=com.google.gerrit.server.logging.LoggingContext#getInstance" \
       "$(cat "$CACHE/launcher-$GERRIT_VERSION")"
}

free_port() {
  node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

start() {
  local site=$1; shift
  local owner="" port=""
  while [ $# -gt 0 ]; do
    case "$1" in
      --owner-pid) owner=$2; shift 2 ;;
      --port) port=$2; shift 2 ;;
      *) die "unknown option $1" ;;
    esac
  done
  fetch
  mkdir -p "$site"
  site=$(cd "$site" && pwd)
  local args; args=$(java_args)
  if [ ! -f "$site/etc/gerrit.config" ]; then
    say "initialising a dev site in $site ..."
    local t0=$SECONDS
    # The log goes beside the site until init is done: init only creates the admin
    # account in a site directory that is empty.
    local log="$site.init.log"
    # shellcheck disable=SC2086
    java $args init --batch --dev --no-auto-start --skip-plugins -d "$site" >"$log" 2>&1 \
      || { tail -40 "$log" >&2; die "init failed (log: $log)"; }
    mv "$log" "$site/init.log"
    grep -q 'Reindexed [1-9][0-9]* documents in accounts index' "$site/init.log" \
      || die "init created no admin account (log: $site/init.log); start from an empty SITE directory"
    say "  initialised in $((SECONDS - t0)) s"
  fi
  [ -n "$port" ] || port=$(free_port)
  local cfg="$site/etc/gerrit.config"
  git config -f "$cfg" gerrit.canonicalWebUrl "http://127.0.0.1:$port/"
  git config -f "$cfg" httpd.listenUrl "http://127.0.0.1:$port/"
  git config -f "$cfg" sshd.listenAddress off
  git config -f "$cfg" sendemail.enable false
  git config -f "$cfg" index.batchThreads 1
  git config -f "$cfg" receive.enableSignedPush false
  say "starting Gerrit on http://127.0.0.1:$port/ (heap $HEAP) ..."
  local t0=$SECONDS
  # shellcheck disable=SC2086
  setsid java $args daemon -d "$site" --console-log --headless </dev/null >"$site/logs/console.log" 2>&1 &
  local pid=$!
  echo "$pid" >"$site/gerrit.pid"
  printf 'GERRIT_URL=http://127.0.0.1:%s\nGERRIT_PID=%s\nGERRIT_ADMIN_USER=admin\nGERRIT_ADMIN_PASSWORD=secret\n' "$port" "$pid" >"$site/depcanary-gerrit.env"
  if [ -n "$owner" ]; then
    setsid bash -c 'while kill -0 "$1" 2>/dev/null && kill -0 "$2" 2>/dev/null; do sleep 2; done; kill "$2" 2>/dev/null; sleep 15; kill -9 "$2" 2>/dev/null' \
      watchdog "$owner" "$pid" </dev/null >/dev/null 2>&1 &
  fi
  local limit=${GERRIT_START_TIMEOUT:-240}
  until curl -fsS -o /dev/null "http://127.0.0.1:$port/config/server/version" 2>/dev/null; do
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -40 "$site/logs/console.log" >&2
      die "Gerrit exited during start-up (log: $site/logs/console.log)"
    fi
    if [ $((SECONDS - t0)) -ge "$limit" ]; then
      stop "$site"
      die "Gerrit did not answer within $limit s (log: $site/logs/console.log)"
    fi
    sleep 0.5
  done
  say "  Gerrit ready in $((SECONDS - t0)) s (pid $pid)"
  echo "url=http://127.0.0.1:$port"
}

stop() {
  local site=$1
  [ -f "$site/gerrit.pid" ] || return 0
  local pid; pid=$(cat "$site/gerrit.pid")
  if kill -0 "$pid" 2>/dev/null; then
    say "stopping Gerrit (pid $pid) ..."
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$site/gerrit.pid"
}

cmd=${1:-fetch}
case "$cmd" in
  fetch) fetch ;;
  start) [ $# -ge 2 ] || die "usage: $0 start SITE [--owner-pid PID] [--port N]"; shift; start "$@" ;;
  stop) [ $# -ge 2 ] || die "usage: $0 stop SITE"; stop "$2" ;;
  *) die "usage: $0 fetch | start SITE [--owner-pid PID] [--port N] | stop SITE" ;;
esac
