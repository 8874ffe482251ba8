#!/bin/bash
# The service on a real systemd: boot a minimal Debian 12 (systemd 252) with systemd-nspawn,
# install pc6band there with `pc6 service install` and a sim-backend config, and check it
# through the public commands only. One line per check; exit 1 if any failed.
#
# Needs root (CI runs as root). The Debian root is built once with debootstrap and cached in
# /var/cache/pc6band-systest; each run boots a fresh copy of it.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)
T0=$(date +%s)
CACHE=/var/cache/pc6band-systest
PROTO=$CACHE/bookworm-v1
MACHINE=pc6systest$$
INCLUDE=systemd,systemd-sysv,dbus,python3,python3-venv,sudo,libpam-systemd,procps,ca-certificates

say() { printf '%s\n' "system-test: $*"; }
elapsed() { echo $(($(date +%s) - T0)); }

if [ "$(id -u)" != 0 ]; then
    if [ "${CI:-}" = true ]; then say "FAIL must run as root in CI"; exit 1; fi
    say "skipped: needs root (debootstrap, systemd-nspawn)"; exit 0
fi

if ! command -v debootstrap >/dev/null || ! command -v systemd-nspawn >/dev/null; then
    say "installing debootstrap and systemd-container"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap systemd-container >/dev/null
fi

mirror() {
    # The host's own Debian mirror (deb822 or one-line sources), else the default one.
    local uri
    uri=$(grep -hs '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{print $2}' \
        | grep -v security | head -n1 || true)
    [ -n "$uri" ] || uri=$(grep -hs '^deb ' /etc/apt/sources.list | awk '{print $2}' \
        | grep -v security | head -n1 || true)
    echo "${uri:-http://deb.debian.org/debian}"
}

if [ ! -e "$PROTO/.complete" ]; then
    say "building the Debian 12 root in $PROTO (once; cached)"
    rm -rf "$PROTO.tmp"
    mkdir -p "$CACHE"
    debootstrap --variant=minbase --include="$INCLUDE" bookworm "$PROTO.tmp" "$(mirror)" \
        >"$CACHE/debootstrap.log" 2>&1 || { tail -n 20 "$CACHE/debootstrap.log"; exit 1; }
    rm -rf "$PROTO"
    mv "$PROTO.tmp" "$PROTO"
    touch "$PROTO/.complete"
fi

WORK=$(mktemp -d /var/tmp/pc6band-systest.XXXXXX)
ROOT=$WORK/root
NSPAWN=
cleanup() {
    if [ -n "$NSPAWN" ] && kill -0 "$NSPAWN" 2>/dev/null; then
        kill -TERM "$NSPAWN" 2>/dev/null || true
        for _ in $(seq 40); do kill -0 "$NSPAWN" 2>/dev/null || break; sleep 0.5; done
        kill -KILL "$NSPAWN" 2>/dev/null || true
        wait "$NSPAWN" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

say "copying the root and building the wheels ($(elapsed)s)"
cp -a "$PROTO" "$ROOT"
cp /usr/local/share/ca-certificates/*.crt "$ROOT/usr/local/share/ca-certificates/" 2>/dev/null || true
# The sdist is what a packager gets; the wheel is built from it, so a broken sdist fails here.
PY=python3
[ -x .venv/bin/python ] && PY=.venv/bin/python
mkdir -p "$WORK/dist" "$ROOT/opt/wheels"
"$PY" -m build --sdist --outdir "$WORK/dist" . >"$WORK/sdist.log" 2>&1 \
    || { tail -n 20 "$WORK/sdist.log"; exit 1; }
"$PY" -m pip wheel -q --wheel-dir "$ROOT/opt/wheels" "$WORK"/dist/pc6band-*.tar.gz \
    >"$WORK/wheel.log" 2>&1 || { tail -n 20 "$WORK/wheel.log"; exit 1; }

say "booting systemd in a container ($(elapsed)s)"
SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1 systemd-nspawn --register=no --keep-unit --console=passive \
    -q -b -D "$ROOT" -M "$MACHINE" --system-call-filter=@clock >"$WORK/boot.log" 2>&1 &
NSPAWN=$!

PID1=
for _ in $(seq 100); do
    for child in $(pgrep -P "$NSPAWN" 2>/dev/null); do
        if [ "$(cat /proc/"$child"/comm 2>/dev/null)" = systemd ]; then PID1=$child; fi
    done
    [ -n "$PID1" ] && break
    sleep 0.2
done
[ -n "$PID1" ] || { say "FAIL container did not start"; cat "$WORK/boot.log"; exit 1; }

# Run a command inside, as root, with a clean environment (nothing of the host's pip set-up).
inside() {
    nsenter -t "$PID1" -a env -i PATH=/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        HOME=/root LANG=C.UTF-8 "$@"
}
# As the builder logged in (like SSH): a PAM login session, their groups from /etc/group.
as_builder() {
    inside systemd-run --quiet --wait --pipe --collect --uid=builder -p PAMName=login \
        -p WorkingDirectory=/home/builder -E HOME=/home/builder "$@"
}
for _ in $(seq 150); do
    state=$(inside systemctl is-system-running 2>/dev/null || true)
    case "$state" in running|degraded) break ;; esac
    sleep 0.2
done
say "container up: $state ($(elapsed)s)"

FAILED=0
check() {  # check NAME OUTCOME [DETAIL]
    if [ "$2" = ok ]; then say "ok   $1${3:+ ($3)}"; else say "FAIL $1${3:+ ($3)}"; FAILED=1; fi
}
prop() { inside systemctl show pc6band -p "$1" --value; }
wait_for() {  # wait_for SECONDS COMMAND...: poll until the command succeeds
    local end=$(($(date +%s) + $1)); shift
    until "$@"; do [ "$(date +%s)" -lt "$end" ] || return 1; sleep 0.5; done
}

inside python3 -m venv /opt/pc6band/venv
inside /opt/pc6band/venv/bin/pip install -q --no-index --find-links /opt/wheels pc6band
inside ln -sf /opt/pc6band/venv/bin/pc6 /usr/local/bin/pc6
inside useradd --create-home --shell /bin/bash builder

# A one-off session a little after the 30 s stability check; the clock here is the host's,
# which no NTP synchronizes, so the as-shipped require_clock_sync holds it at first.
ONCE=$(inside date -d '+45 seconds' +%Y-%m-%dT%H:%M:%S)
cat >"$ROOT/root/sim.toml" <<EOF
require_clock_sync = true
[backend]
name = "sim"
[[schedule]]
once = "$ONCE"
profile = "systest-short"
[profiles]
dirs = ["/etc/pc6band/profiles"]
[control]
group = "pc6band"
EOF
mkdir -p "$ROOT/etc/pc6band/profiles"
cat >"$ROOT/etc/pc6band/profiles/systest-short.toml" <<'EOF'
name = "systest-short"
description = "System test: a short ramp up and down."
kinds = ["vibration"]
intent = "other"
[[steps]]
ramp = 0.5
over = "2s"
[[steps]]
hold = "2s"
[[steps]]
ramp = 0.0
over = "2s"
EOF

dry=$(inside pc6 service install --config /root/sim.toml --member builder --dry-run 2>&1 | tail -n 1)
if inside test -e /etc/systemd/system/pc6band.service || inside id pc6band >/dev/null 2>&1; then
    r=fail
else
    r=ok
fi
check "pc6 service install --dry-run changes nothing" "$r" "$dry"
if inside pc6 service install --config /root/sim.toml --member builder >"$WORK/install.log" 2>&1; then
    check "pc6 service install" ok
    sed 's/^/    /' "$WORK/install.log"
else
    check "pc6 service install" fail "$(tail -n 3 "$WORK/install.log" | tr '\n' ' ')"
fi
again=$(inside pc6 service install --config /root/sim.toml --member builder 2>&1 | tail -n 1 || true)
[ "$again" = "nothing to do: all in place" ] && r=ok || r=fail
check "pc6 service install again changes nothing" "$r" "$again"

# 1. Active, and still the same process 30 s later (a syscall filter kill would restart it).
wait_for 30 test "$(prop ActiveState)" = active && r=ok || r=fail
PID=$(prop MainPID)
check "service active" "$r" "pid $PID, $(prop ActiveState)"
sleep 30  # the check itself: 30 s of real time with no restart
[ "$(prop ActiveState)" = active ] && [ "$(prop MainPID)" = "$PID" ] && [ "$(prop NRestarts)" = 0 ] \
    && r=ok || r=fail
check "service stays active for 30 s" "$r" "pid $(prop MainPID), restarts $(prop NRestarts)"
journal=$(inside journalctl -u pc6band -o cat --no-pager)
grep -q "system clock .*(kernel (adjtimex))" <<<"$journal" && r=ok || r=fail
check "clock check answered by the kernel in the sandbox" "$r" \
    "$(grep -o 'system clock [^(]*' <<<"$journal" | head -n1)"

# 2. pc6 ctl status as a login user in the group, no flags.
if as_builder pc6 ctl status >"$WORK/status.txt" 2>&1; then r=ok; else r=fail; fi
check "pc6 ctl status as builder" "$r" "$(head -n 1 "$WORK/status.txt")"

# pc6 doctor as the builder finds the system daemon and the current unit; install refuses them.
as_builder pc6 doctor >"$WORK/doctor.txt" 2>&1 || true
grep -q "daemon socket reachable: /run/pc6band/control.sock" "$WORK/doctor.txt" \
    && grep -q "sandbox: /etc/systemd/system/pc6band.service is the current unit" "$WORK/doctor.txt" \
    && r=ok || r=fail
check "pc6 doctor as builder sees the daemon and the unit" "$r" \
    "$(grep -c '^\[  ok\]' "$WORK/doctor.txt") ok, $(grep -c '^\[FAIL\]' "$WORK/doctor.txt") FAIL"
refusal=$(as_builder pc6 service install 2>&1 || true)
grep -q "must run as root" <<<"$refusal" && r=ok || r=fail
check "pc6 service install refused for a non-root user" "$r" "$refusal"

# 3. The one-off plays once the config stops waiting for the clock, and shows in pc6 log.
sed -i 's/^require_clock_sync = true/require_clock_sync = false/' "$ROOT/etc/pc6band/pc6band.toml"
inside systemctl reload pc6band
played() { as_builder pc6 log 2>/dev/null | grep -q "systest-short.*completed"; }
wait_for 60 played && r=ok || r=fail
check "one-off scheduled session plays and shows in pc6 log" "$r" \
    "$(as_builder pc6 log 2>&1 | grep systest-short | head -n 1)"

# 4. kill -9 of the main process: systemd restarts it.
PID=$(prop MainPID)
inside kill -9 "$PID"
restarted() { [ "$(prop ActiveState)" = active ] && [ "$(prop MainPID)" != "$PID" ] \
    && [ "$(prop MainPID)" != 0 ]; }
t=$(date +%s)
wait_for 30 restarted && r=ok || r=fail
check "kill -9 is followed by a restart" "$r" "after $(($(date +%s) - t)) s, pid $(prop MainPID)"

# 5. SIGSTOP: no more watchdog pings; systemd kills and restarts it.
WATCHDOG_S=$(prop WatchdogUSec | sed 's/s$//')
case "$WATCHDOG_S" in ''|*[!0-9]*) say "FAIL WatchdogUSec not in seconds: $WATCHDOG_S"; exit 1 ;; esac
PID=$(prop MainPID)
RESTARTS=$(prop NRestarts)
inside kill -STOP "$PID"
t=$(date +%s)
# The restart counts from when systemd kills it and schedules the restart (NRestarts + 1).
counted() { [ "$(prop NRestarts)" -gt "$RESTARTS" ]; }
wait_for $((WATCHDOG_S + 10)) counted && r=ok || r=fail
took=$(($(date +%s) - t))
wait_for 30 restarted || r=fail
check "SIGSTOP leads to a watchdog restart within WatchdogSec + 10 s" "$r" \
    "restart after ${took} s (WatchdogSec ${WATCHDOG_S}s, RestartSec 5s), active again after \
$(($(date +%s) - t)) s, pid $(prop MainPID)"

# 6. systemctl stop runs ExecStopPost (pc6-gpio-off reading the config).
before=$(prop ExecStopPost)
inside systemctl stop pc6band
after=$(prop ExecStopPost)
if [ "$before" != "$after" ] && grep -q "code=exited ; status=0" <<<"$after" \
    && grep -q "pc6-gpio-off --config /etc/pc6band/pc6band.toml" <<<"$after"; then r=ok; else r=fail; fi
check "systemctl stop runs ExecStopPost" "$r" \
    "$(grep -o 'code=[a-z]* ; status=[0-9]*' <<<"$after")"

# 7. Uninstall: the unit and rule go, the config and journal stay.
inside pc6 service uninstall >"$WORK/uninstall.log" 2>&1 && r=ok || r=fail
if inside test -e /etc/systemd/system/pc6band.service || ! inside test -e /etc/pc6band/pc6band.toml \
    || inside systemctl is-enabled pc6band >/dev/null 2>&1; then r=fail; fi
check "pc6 service uninstall removes the unit, keeps the config" "$r" \
    "$(grep -c '^  remove' "$WORK/uninstall.log") removed, $(grep -c '^  keep' "$WORK/uninstall.log") kept"

say "took $(elapsed) s"
if [ "$FAILED" != 0 ]; then
    say "journal of pc6band:"
    inside journalctl -u pc6band -o short-monotonic --no-pager | tail -n 40 || true
    exit 1
fi
say "all checks passed"
