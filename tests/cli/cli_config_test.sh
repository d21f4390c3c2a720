#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# iofencectl's client config file: where it is found (--config, IOFENCE_CONFIG,
# $XDG_CONFIG_HOME, ~/.config), what it sets, the precedence flag > environment > file >
# default, relative file names, and errors that name FILE:LINE.
set -u
ctl=$1 src=$2
fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
bad() { echo "FAIL: $*"; fail=1; }
ok() { echo "ok: $*"; }
# Which agent a command asked: unreachable sockets under $tmp name themselves in the error.
asked() { "$@" status >/dev/null 2>"$tmp/err" </dev/null; sed -n 's/^iofencectl status: \(unix:[^:]*\): .*/\1/p' "$tmp/err" | head -1; }
export HOME=$tmp/home XDG_CONFIG_HOME=
unset IOFENCE_AGENT IOFENCE_CONFIG IOFENCE_OUTPUT IOFENCE_TIMEOUT IOFENCE_CA IOFENCE_CERT IOFENCE_KEY
mkdir -p "$HOME/.config/iofence" "$tmp/xdg/iofence"
policy=$src/deploy/examples/policy.yaml

[ "$(asked "$ctl")" = unix:/run/iofence/iofenced.sock ] || bad "default agent: $(asked "$ctl")"
printf '# operator settings\nagent = unix:%s/file.sock\n\noutput = "json"\n' "$tmp" >"$HOME/.config/iofence/config"
[ "$(asked "$ctl")" = "unix:$tmp/file.sock" ] && ok "~/.config/iofence/config sets the agent" || bad "file agent: $(asked "$ctl")"
printf 'agent = unix:%s/xdg.sock\n' "$tmp" >"$tmp/xdg/iofence/config"
[ "$(XDG_CONFIG_HOME=$tmp/xdg asked "$ctl")" = "unix:$tmp/xdg.sock" ] && ok "XDG_CONFIG_HOME wins over ~/.config" || bad "xdg"
printf 'agent = unix:%s/named.sock\n' "$tmp" >"$tmp/named.conf"
[ "$(IOFENCE_CONFIG=$tmp/named.conf asked "$ctl")" = "unix:$tmp/named.sock" ] && ok "IOFENCE_CONFIG names the file" || bad "IOFENCE_CONFIG"
"$ctl" status --config "$tmp/named.conf" >/dev/null 2>"$tmp/err"
grep -q "^iofencectl status: unix:$tmp/named.sock:" "$tmp/err" && ok "--config FILE" || bad "--config: $(cat "$tmp/err")"
[ "$(IOFENCE_AGENT=unix:$tmp/env.sock asked "$ctl")" = "unix:$tmp/env.sock" ] && ok "environment beats file" || bad "env over file"
IOFENCE_AGENT=unix:$tmp/env.sock "$ctl" status --agent "unix:$tmp/flag.sock" >/dev/null 2>"$tmp/err"
grep -q "^iofencectl status: unix:$tmp/flag.sock:" "$tmp/err" && ok "flag beats environment" || bad "flag over env: $(cat "$tmp/err")"

# several agents in the file: multi-agent commands ask them all, single-agent ones the first
printf 'agent = unix:%s/a.sock\nagent = unix:%s/b.sock\n' "$tmp" "$tmp" >"$HOME/.config/iofence/config"
"$ctl" status >/dev/null 2>"$tmp/err"
[ "$(grep -c '^iofencectl status: unix:' "$tmp/err")" = 2 ] && ok "status asks every configured agent" || bad "two agents: $(cat "$tmp/err")"
"$ctl" counters >/dev/null 2>"$tmp/err"
grep -q "unix:$tmp/a.sock" "$tmp/err" && ! grep -q b.sock "$tmp/err" && ok "counters asks the first" || bad "counters: $(cat "$tmp/err")"

# the default output format applies where the command has that format
printf 'output = json\n' >"$HOME/.config/iofence/config"
"$ctl" compile -f "$policy" --node demo-node >"$tmp/out" 2>&1
/usr/bin/python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$tmp/out" && ok "output = json from the file" || bad "file output: $(head -3 "$tmp/out")"
IOFENCE_OUTPUT=stats "$ctl" compile -f "$policy" --node demo-node >"$tmp/out" 2>&1
grep -q '^iof_policy' "$tmp/out" && ok "IOFENCE_OUTPUT beats the file" || bad "env output"
IOFENCE_OUTPUT=stats "$ctl" compile -f "$policy" --node demo-node -o json >"$tmp/out" 2>&1
/usr/bin/python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$tmp/out" && ok "-o beats IOFENCE_OUTPUT" || bad "flag output"
printf 'output = table\n' >"$HOME/.config/iofence/config"
"$ctl" compile -f "$policy" --node demo-node >"$tmp/out" 2>&1 && grep -q '^iof_policy' "$tmp/out" \
  && ok "a format the command lacks is ignored" || bad "output=table on compile: $(head -3 "$tmp/out")"

# errors name the place
printf 'agent = unix:/x\ncolour = blue\n' >"$HOME/.config/iofence/config"
"$ctl" status >/dev/null 2>"$tmp/err"; r=$?
[ $r = 1 ] && grep -q "^iofencectl status: config: $HOME/.config/iofence/config:2: colour: unknown key" "$tmp/err" \
  && ok "unknown key: FILE:LINE" || bad "unknown key: exit $r: $(cat "$tmp/err")"
printf 'timeout = soon\n' >"$HOME/.config/iofence/config"
"$ctl" status >/dev/null 2>"$tmp/err"; r=$?
[ $r = 1 ] && grep -q "^iofencectl status: $HOME/.config/iofence/config:1: timeout: \"soon\" is not a number of seconds" "$tmp/err" \
  && ok "bad value: FILE:LINE: key" || bad "bad value: exit $r: $(cat "$tmp/err")"
IOFENCE_TIMEOUT=x "$ctl" status >/dev/null 2>"$tmp/err"; r=$?
[ $r = 1 ] && grep -q '^iofencectl status: IOFENCE_TIMEOUT: "x" is not a number of seconds' "$tmp/err" \
  && ok "bad environment value names the variable" || bad "env value: $(cat "$tmp/err")"
printf 'agent\n' >"$HOME/.config/iofence/config"
"$ctl" status >/dev/null 2>"$tmp/err"; [ $? = 1 ] && grep -q ':1: expected KEY = VALUE' "$tmp/err" || bad "malformed line: $(cat "$tmp/err")"
"$ctl" status --config "$tmp/missing.conf" >/dev/null 2>"$tmp/err"; r=$?
[ $r = 1 ] && grep -q "config: $tmp/missing.conf: No such file or directory" "$tmp/err" && ok "a named file must exist" || bad "missing --config: $(cat "$tmp/err")"
rm -f "$HOME/.config/iofence/config"

# relative certificate names are taken from the file's folder
mkdir -p "$tmp/ops"
printf 'agent = 127.0.0.1:22501\nca = certs/ca.pem\ncert = certs/me.pem\nkey = certs/me.key\n' >"$tmp/ops/config"
"$ctl" status --config "$tmp/ops/config" >/dev/null 2>"$tmp/err"
grep -q "$tmp/ops/certs/ca.pem" "$tmp/err" && ok "relative names from the file's folder" || bad "relative: $(cat "$tmp/err")"
exit $fail
