#!/bin/bash
# Key-compromise recovery (TUF's lesson): a leaked but still trusted key signs
# serial 2^63-1 and every honest update is refused as not greater. Once the
# leaked key is removed from allowed_signers, the anchor it signed stops
# constraining serial and ancestry: the next tip signed by a still-trusted
# key is accepted and reported loudly (a `detected` event on resource
# baseline, "re-anchored: ..."), by plumb verify, plumb apply, plumbd --once
# and the running plumbd; then the new anchor constrains as before. The
# leaked key's commits stay refused.
. "$(dirname "$0")/../lib/lib.sh"
. "$TESTS_DIR/lib/gitsign.sh"
. "$TESTS_DIR/lib/daemon.sh"

mk_key leaked ed25519; allow ci@example.com leaked
mk_key new ed25519; allow ci@example.com new
mk_repo
write_cfg "interval:
  poll: 1s"
MAXS=9223372036854775807

commit_signed leaked 1 honest-1
A=$(head_commit)
run_cfg apply; expect_rc 2 "apply the honest baseline 1"
# the attacker, holding the leaked key, publishes the highest serial
commit_signed leaked "$MAXS" attacker
X=$(head_commit)
run_cfg apply; expect_rc 2 "apply the attacker's commit (its key is still trusted)"
expect_content "$ROOT/etc/motd" attacker
[ "$(json_get "$STATE/trust.json" 'd["fingerprint"]')" = "$(fingerprint leaked)" ] || fail "anchor's signer fingerprint not recorded"
# the pipeline's honest fix, signed by the new key, on top of baseline 1: frozen out
git -C "$REPO" reset -q --hard "$A"
commit_signed new 2 honest-2
H=$(head_commit)
run_cfg apply; expect_rc 1 "honest update while the leaked key is trusted"
expect_err "rollback: tip $(echo "$H" | cut -c1-12)"
expect_content "$ROOT/etc/motd" attacker
# ... and on top of the attacker's commit: refused by serial
git -C "$REPO" reset -q --hard "$X"
commit_signed new 3 honest-3
run_cfg apply; expect_rc 1 "honest update over the attacker's serial"
expect_err "is not greater than $MAXS"
git -C "$REPO" reset -q --hard "$H"
note "frozen: an honest tip is refused while the leaked key is trusted"

# recovery: the leaked key is removed from allowed_signers
: > "$SIGNERS"; allow ci@example.com new
cp -a "$STATE" "$T/state-frozen"
run_cfg verify
expect_rc 0 "verify after removing the leaked key"
expect_err "re-anchored: anchor $(echo "$X" | cut -c1-12)"
expect_err "signed by $(fingerprint leaked), a key no longer trusted"
expect_out "signed by a key no longer trusted; the tip re-anchors"
run_cfg --json verify
expect_rc 0 "verify --json after removing the leaked key"
json_get "$T/out" 'd["reanchored"]' | grep -q "^re-anchored: anchor $(echo "$X" | cut -c1-12)" || fail "verify --json lacks reanchored"
echo intruder > "$ROOT/etc/motd"
run_cfg apply
expect_rc 2 "apply re-anchors"
expect_content "$ROOT/etc/motd" honest-2
expect_err "re-anchored: anchor"
[ "$(json_get "$STATE/last-report.json" '[e["action"] for e in d["events"] if e["resource"]=="baseline"][0]')" = detected ] \
	|| fail "no detected event on resource baseline"
json_get "$STATE/last-report.json" '[e["error"] for e in d["events"] if e["resource"]=="baseline"][0]' |
	grep -qF "re-anchored: anchor $(echo "$X" | cut -c1-12) (serial $MAXS) was signed by $(fingerprint leaked), a key no longer trusted" \
	|| fail "the event does not say it re-anchored and why"
if python3 -c 'import jsonschema' 2>/dev/null; then
	python3 "$TESTS_DIR/lib/validate_report.py" "$TESTS_DIR/../docs/report.schema.json" "$STATE/last-report.json" \
		|| fail "the report does not validate against docs/report.schema.json"
fi
[ "$(json_get "$STATE/trust.json" 'd["commit"]')" = "$H" ] || fail "not re-anchored at the honest tip"
[ "$(json_get "$STATE/trust.json" 'd["serial"]')" = 2 ] || fail "anchor serial not the honest one"
[ "$(json_get "$STATE/trust.json" 'd["fingerprint"]')" = "$(fingerprint new)" ] || fail "anchor fingerprint not the new key"
# once: the next run has a trusted anchor again and reports nothing
run_cfg apply; expect_rc 0 "apply after re-anchoring"
grep -q "re-anchored" "$T/err" && fail "re-anchoring reported again"
# the new anchor constrains as before
commit_signed new 2 "lower serial"
run_cfg apply; expect_rc 1 "serial constraint after re-anchoring"
expect_err "serial 2 of tip"
git -C "$REPO" reset -q --hard "$H"
# the leaked key's commits are refused now
commit_signed leaked 10 "attacker again"
run_cfg apply; expect_rc 1 "the leaked key after removal"
expect_err "signed by an unknown key $(fingerprint leaked)"
expect_content "$ROOT/etc/motd" honest-2
git -C "$REPO" reset -q --hard "$H"
note "re-anchored loudly, once; the new anchor constrains; the leaked key is refused"

# the same with plumbd --once, from the frozen state
rm -rf "$STATE"; cp -a "$T/state-frozen" "$STATE"
echo intruder > "$ROOT/etc/motd"
rc=0; "$PLUMBD" -c "$CFG" --once >"$T/out" 2>"$T/err" || rc=$?
expect_rc 2 "plumbd --once re-anchors"
expect_content "$ROOT/etc/motd" honest-2
expect_err "re-anchored: anchor"
[ "$(json_get "$STATE/trust.json" 'd["commit"]')" = "$H" ] || fail "plumbd --once: not re-anchored"
# and with the running daemon: one detected event, logged once
rm -rf "$STATE"; cp -a "$T/state-frozen" "$STATE"
echo intruder > "$ROOT/etc/motd"
start_plumbd -c "$CFG"
wait_until 10 '[ "$(cat $ROOT/etc/motd)" = honest-2 ]' || fail "plumbd did not re-anchor"
wait_until 5 '[ "$(json_get $STATE/trust.json "d[\"commit\"]")" = "$H" ]' || fail "plumbd: anchor not moved"
grep -q "baseline: detected: re-anchored: anchor $(echo "$X" | cut -c1-12)" "$DLOG" || fail "plumbd did not report the re-anchoring"
sleep 2.5
[ "$(grep -c 'baseline: detected: re-anchored' "$DLOG")" -eq 1 ] || fail "plumbd reported the re-anchoring more than once"
stop_plumbd
note "plumbd --once and plumbd re-anchor and report it"

# an anchor without a recorded fingerprint keeps constraining (never widen on a guess)
rm -rf "$STATE"; cp -a "$T/state-frozen" "$STATE"
python3 - "$STATE/trust.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1])); d["fingerprint"] = ""
open(sys.argv[1], "w").write(json.dumps(d))
PY
run_cfg apply; expect_rc 1 "anchor with no fingerprint"
expect_err "rollback: tip"
