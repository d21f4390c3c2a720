#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# iofencectl and iofenced document themselves from their option tables: every command's --help
# lists each of its options with its default, the three man pages render without warnings, and
# both completions (bash run for real, zsh run with its completion builtins replaced by
# printers) offer every subcommand and every option the binary knows; docs/AGENT.md names
# every option of both binaries.
set -u
ctl=$1 agent=$2 ctl_page=$3 agent_page=$4 policy_page=$5 ctl_bash=$6 ctl_zsh=$7 agent_doc=$8
fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
bad() { echo "FAIL: $*"; fail=1; }

"$ctl" --help-commands >"$tmp/commands" || bad "--help-commands"
[ "$(wc -l <"$tmp/commands")" -ge 15 ] || bad "too few commands: $(cat "$tmp/commands")"

# --help of each command (and of each verb) lists every option of its table entry
while IFS='|' read -r -u 3 name operands opts; do
  # shellcheck disable=SC2086
  "$ctl" $name --help >"$tmp/help" 2>&1 || bad "$name --help exits $?"
  for o in $opts; do
    grep -q -- "$o[ ,]" "$tmp/help" || grep -q -- "$o\$" "$tmp/help" || bad "$name --help lacks $o"
  done
done 3<"$tmp/commands"
joined() { "$@" | sed ':a;N;$!ba;s/\n  */ /g'; } # help with its wrapped lines joined
joined "$ctl" apply --help | grep -q -- '--timeout SEC .*(default: 10; env IOFENCE_TIMEOUT)' \
  || bad "apply --help: --timeout without its default"
joined "$ctl" endpoint wait --help | grep -q -- '--timeout SEC .*(default: 30)' \
  || bad "endpoint wait --help: its own --timeout default"
joined "$ctl" endpoint put --help | grep -q -- '--enforced .*--timeout SEC .*(default: 30)' \
  || bad "endpoint put --help: --enforced and its --timeout"
joined "$agent" --help | grep -q -- '--keep N .*(default: 10)' || bad "iofenced --help: --keep default"
for o in listen pin-dir state node etcd-endpoints failsafe vxlan-trace-port; do
  "$agent" --help | grep -q -- "--$o" || bad "iofenced --help lacks --$o"
done
# docs/AGENT.md, "Flags": every long option of both binaries, as `--name ...` or `--name`
{ "$agent" --help | grep -oE '^  (-[a-z], )?--[a-z-]+' | grep -oE -- '--[a-z-]+'
  cut -d'|' -f3 "$tmp/commands" | tr ' ' '\n' | grep -- '^--'; } | sort -u >"$tmp/long"
while read -r o; do
  grep -qE -- "\`$o[ \`]" "$agent_doc" || bad "docs/AGENT.md does not name $o"
done <"$tmp/long"
"$ctl" apply --bogus >/dev/null 2>"$tmp/err"; [ $? = 1 ] || bad "unknown option: exit != 1"
grep -q 'iofencectl apply: unknown option or missing value in "--bogus" (see iofencectl apply --help)' \
  "$tmp/err" || bad "unknown option message: $(cat "$tmp/err")"

# man pages: render without a warning, and name every command
for page in "$ctl_page" "$agent_page" "$policy_page"; do
  MANWIDTH=80 man --warnings -l "$page" >"$tmp/page" 2>"$tmp/warn" || bad "man $page exits $?"
  [ ! -s "$tmp/warn" ] || bad "man $page warns: $(head -3 "$tmp/warn")"
  [ "$(wc -l <"$tmp/page")" -gt 40 ] || bad "man $page is short"
done
MANWIDTH=200 man -l "$ctl_page" >"$tmp/ctl_page" 2>/dev/null
while IFS='|' read -r -u 3 name _ _; do
  grep -q "^   $name" "$tmp/ctl_page" || bad "iofencectl(8) lacks $name"
done 3<"$tmp/commands"

# bash: run the completion function as bash would, in one shell for every entry
bash --norc --noprofile -s "$ctl_bash" "$tmp/commands" <<'EOS' || fail=1
source "$1"
fail=0
bad() { echo "FAIL: bash: $*"; fail=1; }
offers() { # word... -> $got: what completing the last word offers, one a line, framed by newlines
  COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMPREPLY=(); _iofencectl 2>/dev/null
  got=$'\n'$(printf '%s\n' "${COMPREPLY[@]}")$'\n'
}
has() { [[ $got == *$'\n'"$1"$'\n'* ]]; } # no fork per check: this runs ~300 times
offers iofencectl ""; top=$got
while IFS='|' read -r -u 3 name operands opts; do
  first=${name%% *}
  got=$top; has "$first" || bad "subcommand $first not offered"
  if [ "$first" != "$name" ]; then
    offers iofencectl "$first" ""; has "${name#* }" || bad "$name: verb not offered"
  fi
  # shellcheck disable=SC2086
  offers iofencectl $name ""
  for o in $opts $operands; do has "$o" || bad "$name: $o not offered"; done
done 3<"$2"
offers iofencectl get -o ""; has normalized || bad "get -o values"
offers iofencectl flows --verdict ""; has deny || bad "flows --verdict values"
exit $fail
EOS

# zsh: the generated function parses; with zsh's completion builtins replaced by printers,
# each entry hands _arguments a spec for every option (one zsh for every entry)
zsh -n "$ctl_zsh" || bad "zsh: _iofencectl does not parse"
zsh -f -s "$ctl_zsh" "$tmp/commands" <<'EOS' || fail=1
_describe() { print -rl -- "${(@P)${@[-1]}}"; }
_arguments() { print -rl -- "$@"; }
eval "$(sed '$d' "$1")" # the file without its last line, the call
fail=0
bad() { print -r -- "FAIL: zsh: $*"; fail=1; }
offers() { local -a words; local CURRENT; words=("$@"); CURRENT=$#; got=(${(f)"$(_iofencectl)"}); }
offers iofencectl ""; top=($got)
while IFS='|' read -r -u 3 name operands opts; do
  first=${name%% *}
  (( ${top[(I)$first:*]} )) || bad "subcommand $first not offered"
  if [[ $first != $name ]]; then
    offers iofencectl $first ""; (( ${got[(I)${name#* }:*]} )) || bad "$name: verb not offered"
  fi
  offers iofencectl ${=name} ""
  for o in ${=opts}; do # a spec is [*]OPTION[+=][help]...
    (( ${got[(I)(\*|)$o(+|=|)\[*]} )) || bad "$name: $o has no spec"
  done
done 3<"$2"
exit $fail
EOS
checked=$(wc -l <"$tmp/commands")
[ $fail = 0 ] && echo "($checked command entries)" && echo "ok: help, man pages and completions list every command and option"
exit $fail
