#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Packaging: `systemd-analyze verify` of the unit (ExecStart pointed at the built agent), the
# default config file read by the agent, a bad config refused, SIGHUP re-reading the log
# level, the bash completion file sourcing cleanly.
set -u
IOFENCED=$1 CTL=$2 SRC=$3
TMP=$(mktemp -d /tmp/iofag-unit.XXXXXX)
AGENT=""
trap '[ -n "$AGENT" ] && kill "$AGENT" 2>/dev/null; rm -rf "$TMP"' EXIT
fail() { echo "[unit] FAIL: $*" >&2; exit 1; }
command -v systemd-analyze >/dev/null || { echo "[unit] SKIP: no systemd-analyze"; exit 249; }

sed "s|/usr/sbin/iofenced|$IOFENCED|" "$SRC/deploy/systemd/iofenced.service" >"$TMP/iofenced.service"
# --man=no: the unit names iofenced(8), which the package installs (not this test host).
systemd-analyze verify --man=no "$TMP/iofenced.service" >"$TMP/verify.out" 2>&1 \
	|| { cat "$TMP/verify.out"; fail "systemd-analyze verify"; }
[ -s "$TMP/verify.out" ] && { cat "$TMP/verify.out"; fail "verify printed warnings"; }
grep -q '^Type=notify' "$TMP/iofenced.service" || fail "Type=notify"
grep -q '^CapabilityBoundingSet=CAP_BPF CAP_NET_ADMIN CAP_SYS_ADMIN CAP_PERFMON CAP_SYS_NICE$' \
	"$TMP/iofenced.service" || fail "capabilities"
# The link watcher's SCHED_FIFO needs CAP_SYS_NICE and no RestrictRealtime.
grep -q '^AmbientCapabilities=.*CAP_SYS_NICE' "$TMP/iofenced.service" || fail "ambient CAP_SYS_NICE"
grep -q '^RestrictRealtime=yes' "$TMP/iofenced.service" && fail "RestrictRealtime refuses SCHED_FIFO"
echo "[unit] systemd-analyze verify: clean"

# The shipped config, with test paths on top (flags win over the file).
cp "$SRC/deploy/iofenced.conf" "$TMP/iofenced.conf"
echo "node = from-file" >>"$TMP/iofenced.conf"
"$IOFENCED" --config "$TMP/iofenced.conf" --datapath none --state "$TMP/state.db" \
	--listen "unix:$TMP/sock" 2>"$TMP/log" &
AGENT=$!
for _ in $(seq 50); do "$CTL" status --agent "unix:$TMP/sock" >/dev/null 2>&1 && break; sleep 0.1; done
"$CTL" status --agent "unix:$TMP/sock" -o json | grep -q '"node": "from-file"' || fail "config node not used"
sed -i 's/^log-level = info/log-level = debug/' "$TMP/iofenced.conf"
kill -HUP $AGENT
sleep 0.5
grep -q "reloaded $TMP/iofenced.conf: log level 3" "$TMP/log" || { cat "$TMP/log"; fail "SIGHUP reload"; }
kill -TERM $AGENT
wait $AGENT || fail "exit code after SIGTERM"
AGENT=""
echo "[unit] config file read, SIGHUP reload, SIGTERM exit 0"

echo "bogus = 1" >"$TMP/bad.conf"
rc=0
"$IOFENCED" --config "$TMP/bad.conf" --datapath none 2>"$TMP/err" || rc=$?
[ $rc = 1 ] && grep -q "bad.conf:1: bogus: unknown setting" "$TMP/err" || fail "bad config: rc $rc $(cat "$TMP/err")"
rc=0
"$IOFENCED" --log-level loud 2>"$TMP/err" || rc=$?
[ $rc = 1 ] || fail "bad flag value: rc $rc"
# generated beside the binary from its option table (tests/cli/cli_docs_test.sh checks it)
bash -c "source '$(dirname "$CTL")/iofencectl.bash' && complete -p iofencectl" >/dev/null \
	|| fail "bash completion"
echo "[unit] PASS"
