#!/usr/bin/env python3
"""hub_page_api_test.py - the fleet page's API on a running plumb-hub:
server-side paging, filters, sorting and totals; deltas and ETag/304; CSV
and JSON exports; fleet-wide event search; events per hour; the rollout
view; acknowledgements and the operator/admin roles; browser sessions
(cookie, CSRF, logout, revocation). Hostile input throughout: SQL
metacharacters, huge page sizes, bad cursors, formula cells, a viewer
acking, a stolen cookie after logout and revocation, cross-site POSTs.
The fleet: BULK hosts the caller wrote straight into the database
(fleet-NNNNN), plus hosts posting real reports here. Exits non-zero on the
first failed check, naming it."""
import argparse
import copy
import csv
import io
import json
import time
import urllib.parse
import uuid

import hubtest

ap = argparse.ArgumentParser()
ap.add_argument("--hub", required=True)
ap.add_argument("--db", required=True)
ap.add_argument("--url", required=True)
ap.add_argument("--template", required=True)
ap.add_argument("--bulk", type=int, required=True)
ap.add_argument("--log", required=True, help="the hub's log file")
args = ap.parse_args()
u = urllib.parse.urlparse(args.url)
T = hubtest.Client(args.url, args.hub, args.db)
check, token, req = T.check, T.token, T.req
H = T.headers


def get(path, tok, **kw):
    return req("GET", path, tok=tok, **kw)


def q(path, **params):
    return path + "?" + urllib.parse.urlencode(params)


template = json.load(open(args.template))
template["baseline"].update(commit="0123456789abcdef0123456789abcdef01234567", signer="ci@example.com",
                            fingerprint="SHA256:" + "A" * 43, serial=42)
template["mode"] = "enforce"
NOW = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def report(host, events, serial=42, commit=None):
    d = copy.deepcopy(template)
    d["id"] = str(uuid.uuid4())
    d["host"] = host
    d["events"] = events
    d["baseline"]["serial"] = serial
    if commit:
        d["baseline"]["commit"] = commit
    return d


def event(resource, action="detected", at=None, error=None):
    e = {"resource": resource, "drift": ["content"], "action": action,
         "expected": {"type": "file", "sha256": "a" * 64}, "actual": {"type": "file", "sha256": "b" * 64},
         "at": at or NOW}
    if error:
        e["error"] = error
    return e


V = token("add", "--viewer", "page-viewer")
OP = token("add", "--operator", "page-op")
AD = token("add", "--admin", "page-admin")
check(OP.startswith("pho_") and AD.startswith("phx_"), "operator and admin token shapes")
listing = token("list")
check(" operator " in listing and " admin " in listing, "token list shows the new roles")

# ---- real reports: hosts on two serials, one refused, one hostile name ----
FORMULA_HOST = "=HYPERLINK(\"http://evil.example/\")"
posted = {}


def post(host, events, **kw):
    if host not in posted:
        posted[host] = token("add", host)
    st, doc = req("POST", "/v1/reports", report(host, events, **kw), tok=posted[host])
    check(st == 201, "report from %s stored: %s %s" % (host, st, doc))


hour_ago = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 3600))
post("web-a", [event("file:/etc/sudoers", "reverted"), event("file:/etc/ssh/sshd_config", "detected")])
post("web-b", [event("file:/etc/sudoers", "reverted", at=hour_ago)], serial=41,
     commit="89abcdef0123456789abcdef0123456789abcdef")
post("web-c", [event("baseline", "refused", error="tip 89ab is signed by an unknown key")], serial=41,
     commit="89abcdef0123456789abcdef0123456789abcdef")
post(FORMULA_HOST, [event("file:/etc/motd", "reverted", error="+SUM(1,2)\" and \"quotes\"\nsecond line")])
post("pct%host_1", [])
TOTAL = args.bulk + len(posted)

# ---- paging: every host exactly once, in order, with totals ----
st, d = get("/v1/hosts", V)
check(st == 200 and d["total"] == TOTAL and d["summary"]["total"] == TOTAL, "total is the whole fleet: %s" % d.get("total"))
check(d["count"] == len(d["hosts"]) == 500 and d["limit"] == 500 and d["next"], "the first page is 500 hosts with a next")
for sort, order in (("host", "asc"), ("host", "desc"), ("last_seen", "desc"), ("status", "asc"), ("status", "desc")):
    seen, cursor, pages = [], None, 0
    while pages < 100:
        p = {"limit": 1000, "sort": sort, "order": order}
        if cursor:
            p["cursor"] = cursor
        st, d = get(q("/v1/hosts", **p), V)
        check(st == 200, "page %d of sort=%s" % (pages, sort))
        seen += d["hosts"]
        pages += 1
        cursor = d["next"]
        if not cursor:
            break
    names = [h["host"] for h in seen]
    check(len(names) == TOTAL and len(set(names)) == TOTAL, "sort=%s %s: every host once (%d)" % (sort, order, len(names)))
    if sort == "host":  # (the bulk names: every collation orders them alike)
        fl = [n for n in names if n.startswith("fleet-")]
        check(fl == sorted(fl, reverse=(order == "desc")), "sort=host %s is ordered" % order)
    if sort == "last_seen":
        ls = [h["last_seen"] for h in seen]
        check(ls == sorted(ls, reverse=True), "sort=last_seen desc is ordered")
    if sort == "status":
        rank = {"silent": 0, "drifting": 1, "refused": 2, "unprotected": 3, "stale": 4, "compliant": 5}
        rs = [rank[h["status"]] for h in seen]
        check(rs == sorted(rs, reverse=(order == "desc")), "sort=status %s orders by urgency" % order)
        for r in set(rs):  # and by name within a status
            fl = [h["host"] for h in seen if rank[h["status"]] == r and h["host"].startswith("fleet-")]
            check(fl == sorted(fl, reverse=(order == "desc")), "sort=status: by name within %d" % r)

st, d = get(q("/v1/hosts", status="drifting", limit=1000), V)
check(st == 200 and d["total"] == d["summary"]["drifting"] == len(d["hosts"]), "status total equals its counter")
check(all(h["status"] == "drifting" for h in d["hosts"]), "status filter")
check("web-a" in [h["host"] for h in d["hosts"]], "web-a is drifting")
st, d = get(q("/v1/hosts", status="refused"), V)
check([h["host"] for h in d["hosts"]] == ["web-c"] and d["total"] == 1, "web-c alone is refused")
st, d = get(q("/v1/hosts", q="WEB-"), V)
check(st == 200 and sorted(h["host"] for h in d["hosts"]) == ["web-a", "web-b", "web-c"] and d["total"] == 3,
      "host search is a case-insensitive substring")
st, d = get(q("/v1/hosts", q="fleet-0001", limit=3), V)
check(d["total"] == 10 and d["count"] == 3 and d["next"], "a search's total counts past its page")
st, d = get(q("/v1/hosts", serial=41), V)
check(sorted(h["host"] for h in d["hosts"]) == ["web-b", "web-c"], "serial filter")
st, d = get(q("/v1/hosts", serial_below=42), V)
check(sorted(h["host"] for h in d["hosts"]) == ["web-b", "web-c"], "serial_below: who is behind")

# hostile filters: SQL metacharacters are values, LIKE wildcards are literal
for bad in ("' OR 1=1 --", "\"; DROP TABLE hosts; --", "x' UNION SELECT hash FROM tokens --", "%%", "_x_", "*"):
    st, d = get(q("/v1/hosts", q=bad), V)
    check(st == 200 and d["total"] == 0 and d["hosts"] == [], "q=%r matches nothing" % bad)
st, d = get(q("/v1/hosts", q="%host_"), V)
check([h["host"] for h in d["hosts"]] == ["pct%host_1"], "%% and _ in q match themselves")
st, d = get(q("/v1/events", host="' OR '1'='1", count="yes"), V)
check(st == 200 and d["events"] == [] and d["total"] == 0, "an SQL host filter matches no event")
st, d = get(q("/v1/events", resource="file:/etc/sudoers' OR 'a'='a"), V)
check(st == 200 and d["events"] == [], "an SQL resource filter matches no event")
st, d = get("/v1/hosts", V)
check(d["total"] == TOTAL, "the hosts are all still there")

# bad parameters: 400 with a message, never a silent default
for path, what in ((q("/v1/hosts", limit=1001), "limit"), (q("/v1/hosts", limit=10 ** 12), "limit"),
                   (q("/v1/hosts", limit=0), "limit"), (q("/v1/hosts", limit=-5), "limit"),
                   (q("/v1/hosts", limit="1e3"), "limit"), (q("/v1/hosts", format="csv", limit=10001), "limit"),
                   (q("/v1/hosts", sort="host; DROP TABLE hosts"), "sort"), (q("/v1/hosts", order="sideways"), "order"),
                   (q("/v1/hosts", status="evil"), "status"), (q("/v1/hosts", statsu="drifting"), "unknown parameter"),
                   (q("/v1/hosts", serial="-1"), "serial"), (q("/v1/hosts", since="yesterday"), "since"),
                   (q("/v1/hosts", commit="XYZ"), "commit"), (q("/v1/hosts", format="xml"), "format"),
                   (q("/v1/hosts", q="x" * 300), "q"),
                   (q("/v1/events", limit=1001), "limit"), (q("/v1/events", action="exploded"), "action"),
                   (q("/v1/events", before="abc"), "before"), (q("/v1/events", after="-1"), "after"),
                   (q("/v1/events", since="2026-13-45T00:00:00Z"), "since"), (q("/v1/events", acked="maybe"), "acked"),
                   (q("/v1/events", since="1h", until="2h"), "until"), (q("/v1/events", count="1"), "count"),
                   (q("/v1/events", hots="web-a"), "unknown parameter"),
                   (q("/v1/events/histogram", since="60d"), "31 days")):
    st, d = get(path, V)
    check(st == 400 and isinstance(d, dict) and what in d.get("error", ""), "%s is 400 naming %s: %s %s" % (path[:80], what, st, d))
for cur in ("zz", "1_", "_61", "1_6", "1_0061", "1_ZZ", "99999999999999999999_61", "1_" + "61" * 300, "-1_61",
            "1_61\x00", "1_6162'--"):
    st, d = get("/v1/hosts?cursor=" + urllib.parse.quote(cur), V)
    check(st == 400 and "cursor" in d["error"], "bad cursor %r is 400" % cur[:20])

# ---- deltas: since= the last answer's watermark; ETag and 304 ----
st, d = get(q("/v1/hosts", limit=10), V)
etag = H.get("etag")
check(st == 200 and etag and etag.startswith('"'), "hosts carry an ETag")
st, body = get(q("/v1/hosts", limit=10), V, headers={"If-None-Match": etag}, raw=True)
check(st == 304 and body == b"", "the same page with If-None-Match is 304 with no body")
st, body = get(q("/v1/hosts", limit=10), V, headers={"If-None-Match": '"0000"'}, raw=True)
check(st == 200 and len(body) > 100, "another ETag gets the page")
time.sleep(2.2)  # the watermark is a second behind (a delta may repeat a host, never miss one)
st, body = get(q("/v1/hosts", limit=10), V, headers={"If-None-Match": etag}, raw=True)
check(st == 304, "seconds later, with a silent host on the page, still 304 (no age in the answer): %s" % st)
st, d = get(q("/v1/hosts", limit=1), V)
mark = d["watermark"]
st, d = get(q("/v1/hosts", since=mark), V)
check(st == 200 and d["total"] == 0 and d["hosts"] == [], "nothing changed since the watermark: %s" % d["hosts"])
time.sleep(1.1)
post("web-b", [event("file:/etc/sudoers", "detected")], serial=42)
st, d = get(q("/v1/hosts", since=mark), V)
check([h["host"] for h in d["hosts"]] == ["web-b"] and d["total"] == 1, "the delta holds the host that reported")
check(d["hosts"][0]["status"] == "drifting" and d["summary"]["drifting"] >= 2, "and its new status, and the counters")
st, d = get(q("/v1/hosts", limit=10), V, headers={"If-None-Match": etag})
check(st == 200, "a changed fleet is not 304")
st, d = get(q("/v1/events", limit=5), V)
check(st == 200 and d["newest"], "events say their newest seq")
newest, etag = d["newest"], H.get("etag")
st, body = get(q("/v1/events", limit=5), V, headers={"If-None-Match": etag}, raw=True)
check(st == 304, "events: If-None-Match is 304")
st, d = get(q("/v1/events", after=newest), V)
check(st == 200 and d["events"] == [], "no event after the newest")
post("web-a", [event("file:/etc/hosts", "reverted")])
st, d = get(q("/v1/events", after=newest), V)
check([e["resource"] for e in d["events"]] == ["file:/etc/hosts"], "after= gives just the new event")

# ---- fleet-wide event search ----
st, d = get(q("/v1/events", resource="file:/etc/sudoers", count="yes"), V)
check(st == 200 and sorted(e["host"] for e in d["events"]) == ["web-a", "web-b", "web-b"] and d["total"] == 3 and
      d["total_exact"], "who touched /etc/sudoers, fleet-wide, with a total")
st, d = get(q("/v1/events", resource="file:/etc/s*", count="yes"), V)
check({e["resource"] for e in d["events"]} == {"file:/etc/sudoers", "file:/etc/ssh/sshd_config"}, "resource prefix with *")
st, d = get(q("/v1/events", resource="file:/etc/sudoers", action="reverted"), V)
check(sorted(e["host"] for e in d["events"]) == ["web-a", "web-b"], "resource and action together")
st, d = get(q("/v1/events", resource="file:/etc/sudoers", since="30m"), V)
check(sorted(e["host"] for e in d["events"]) == ["web-a", "web-b"], "since=30m leaves out the hour-old event")
st, d = get(q("/v1/events", resource="file:/etc/sudoers", until="30m"), V)
check([e["host"] for e in d["events"]] == ["web-b"] and d["events"][0]["at"] == hour_ago, "until=30m keeps only it")
st, d = get(q("/v1/events", resource="file:/etc/sudoers", limit=1, count="yes"), V)
check(len(d["events"]) == 1 and d["next"] and d["total"] == 3, "a page of one says the total and has a next")

# ---- events per hour ----
st, d = get(q("/v1/events/histogram", since="3h"), V)
check(st == 200 and d["buckets"], "histogram buckets")
total_h = sum(sum(b["actions"].values()) for b in d["buckets"])
st, e = get(q("/v1/events", since="3h", count="yes", limit=1), V)
check(total_h == e["total"], "the buckets add up to the events in the window (%d, %d)" % (total_h, e["total"]))
check(any(b["actions"].get("reverted") for b in d["buckets"]) and all(b["hour"].endswith(":00:00Z") for b in d["buckets"]),
      "buckets are whole hours by action")
st, d = get(q("/v1/events/histogram", since="3h", host="web-b"), V)
check(sum(sum(b["actions"].values()) for b in d["buckets"]) == 2, "the chart takes the event filters")

# ---- rollout ----
st, d = get("/v1/rollout", V)
check(st == 200 and d["newest_serial"] == 42, "rollout: the newest serial")
g = {(x["serial"], x["commit"]): x for x in d["groups"]}
old = g.get((41, "89abcdef0123456789abcdef0123456789abcdef"))
check(old and old["hosts"] == 1 and old["refused"] == 1, "serial 41: web-c, refused: %s" % d["groups"][:3])
check(d["behind"] >= 1 and d["groups"][0]["serial"] == 42, "who is behind, newest group first")

# ---- exports ----
st, body = get(q("/v1/hosts", format="csv", q="=hyper"), V, raw=True)
check(st == 200 and H["content-type"].startswith("text/csv") and "attachment" in H.get("content-disposition", ""),
      "hosts CSV is a download")
rows = list(csv.reader(io.StringIO(body.decode())))
check(rows[0][0] == "host" and len(rows) == 2, "CSV header and one row")
check(rows[1][0] == "'" + FORMULA_HOST, "a formula host name is defused: %r" % rows[1][0])
check(not any(c[:1] and c[:1] in "=+-@" for r in rows for c in r), "no CSV cell starts a formula")
st, body = get(q("/v1/events", format="csv", host=FORMULA_HOST), V, raw=True)
rows = list(csv.DictReader(io.StringIO(body.decode())))
check(st == 200 and len(rows) == 1, "events CSV")
check(rows[0]["error"] == "'+SUM(1,2)\" and \"quotes\"\nsecond line", "quotes and newlines survive, + defused: %r" % rows[0]["error"])
check(rows[0]["host"] == "'" + FORMULA_HOST, "the event's host is defused too")
st, d = get(q("/v1/hosts", format="json", limit=10000), V)
check(st == 200 and len(d["hosts"]) == TOTAL and "attachment" in H.get("content-disposition", ""), "JSON export of the whole view")
if TOTAL > 10000:
    st, d = get(q("/v1/hosts", format="csv", limit=10000), V)
    check(st == 413, "an export larger than one page is refused, not cut")
st, d = get(q("/v1/hosts", format="csv", limit=5), V)
check(st == 413 and "cursor" in d["error"], "a CSV export that would be cut says so (413)")

# ---- acknowledgements and roles ----
st, d = get(q("/v1/events", host="web-a", resource="file:/etc/sudoers"), V)
seq = d["events"][0]["seq"]
check(d["events"][0]["ack"] is None, "not acknowledged yet")
ack = "/v1/events/%d/ack" % seq
check(req("POST", ack, {"note": "x"}, tok=V)[0] == 403, "a viewer may not ack")
check(req("POST", ack, {"note": "x"}, tok=posted["web-a"])[0] == 403, "an agent may not ack")
check(req("POST", ack, {"note": "x"})[0] == 401, "no token: 401")
NOTE = "change 4711: sudoers edit approved\nby the CAB; \"ok\" \u202e"
for bad in (b"", b"not json", b"[]", b'{"note": ""}', json.dumps({"note": "n" * 1001}).encode(), b'{"note": 5}',
            b'{"note": "a", "extra": 1}', b'{"note": "a\\u0000b"}', b'{"note": "a", "note": "b"}'):
    st, d = req("POST", ack, bad, tok=OP)
    check(st == 400, "a bad ack body is 400: %r -> %s" % (bad[:30], st))
check(req("POST", ack, b"x" * 20000, tok=OP)[0] == 413, "a huge ack body is 413")
check(req("POST", "/v1/events/999999999/ack", {"note": "x"}, tok=OP)[0] == 404, "acking an unknown event is 404")
for path in ("/v1/events/abc/ack", "/v1/events/0/ack", "/v1/events/1/ack/x", "/v1/events/-1/ack",
             "/v1/events/99999999999999999999/ack"):
    check(req("POST", path, {"note": "x"}, tok=OP)[0] == 404, "%s is 404" % path)
st, d = get(q("/v1/events", acked="yes"), V)
check(d["events"] == [], "nothing acknowledged after refused attempts")
st, d = req("POST", ack, {"note": NOTE}, tok=OP)
check(st == 200 and d["ack"]["by"] == "page-op" and d["ack"]["note"] == NOTE, "an operator acks: %s %s" % (st, d))
st, d = get(q("/v1/events", acked="yes"), V)
check([e["seq"] for e in d["events"]] == [seq] and d["events"][0]["ack"]["note"] == NOTE, "the ack shows on the event")
st, d = get(q("/v1/events", acked="no", host="web-a", resource="file:/etc/sudoers"), V)
check(d["events"] == [], "acked=no leaves it out")
st, d = req("POST", ack, {"note": "admin too"}, tok=AD)
check(st == 200, "an admin may ack")
check(get("/v1/audit", V)[0] == 403 and get("/v1/audit", OP)[0] == 403, "viewers and operators may not read the audit trail")
st, d = get("/v1/audit", AD)
check(st == 200 and [(a["by"], a["role"]) for a in d["acks"]] == [("page-admin", "admin"), ("page-op", "operator")],
      "the audit trail keeps both acks: %s" % d)
check(d["acks"][1]["note"] == NOTE and d["acks"][1]["event"] == seq, "with the note and the event")
log = open(args.log, encoding="utf-8", errors="replace").read()
check("audit: event %d" % seq in log and "acknowledged by operator:page-op" in log, "the ack is in the hub's log")
check("change 4711: sudoers edit approved\\x0aby the CAB" in log, "the note is logged with its newline escaped")

# ---- sessions ----
def cookie_of(headers):
    sc = headers.get("set-cookie", "")
    return sc.split(";")[0].split("=", 1)[1] if sc.startswith("plumb_session=") else None


st, d = req("POST", "/v1/session", tok=V)
sc = H.get("set-cookie", "")
check(st == 201 and d["role"] == "viewer" and len(d["csrf"]) == 64, "a viewer token opens a session")
check("HttpOnly" in sc and "SameSite=Strict" in sc and "Path=/" in sc and "Secure" not in sc, "cookie flags (http): %s" % sc)
VC = cookie_of(H)
check(VC and V not in sc and len(VC) == 64, "the cookie is a random id, not the token")
ck = lambda c: {"Cookie": "plumb_session=" + c}
st, d = get("/v1/hosts?limit=1", None, headers=ck(VC))
check(st == 200, "the cookie reads the fleet (a new tab, no token)")
st, d = get("/v1/session", None, headers=ck(VC))
check(st == 200 and d["subject"] == "page-viewer" and d["session"] and len(d["csrf"]) == 64, "GET /v1/session names it")
for bad in ("0" * 64, VC[:-1] + ("0" if VC[-1] != "0" else "1"), "x", VC + "0", "' OR 1=1 --"):
    check(get("/v1/hosts", None, headers=ck(bad))[0] == 401, "a forged cookie is 401")
check(req("POST", "/v1/session", tok=posted["web-a"])[0] == 403, "an agent token opens no session")
check(req("POST", "/v1/session", headers=ck(VC))[0] == 400, "a session does not open another")
check(req("POST", "/v1/session")[0] == 401, "no token, no session")

st, d = req("POST", "/v1/session", tok=OP)
OC, OCSRF = cookie_of(H), d["csrf"]
st, d = get(q("/v1/events", host="web-b", resource="file:/etc/sudoers"), V)
seq2 = d["events"][0]["seq"]
ack2 = "/v1/events/%d/ack" % seq2
check(req("POST", ack2, {"note": "x"}, headers=ck(OC))[0] == 403, "a cookie ack without the CSRF token is 403")
check(req("POST", ack2, {"note": "x"}, headers=dict(ck(OC), **{"X-CSRF-Token": "0" * 64}))[0] == 403,
      "a wrong CSRF token is 403")
check(req("POST", ack2, {"note": "x"}, headers=dict(ck(OC), **{"X-CSRF-Token": VC}))[0] == 403,
      "the cookie value is not the CSRF token")
check(req("POST", ack2, {"note": "x"}, headers=dict(ck(OC), **{"X-CSRF-Token": OCSRF, "Origin": "https://evil.example"}))[0]
      == 403, "a cross-site Origin is 403 even with the CSRF token")
check(req("POST", ack2, {"note": "x"}, headers=dict(ck(OC), **{"X-CSRF-Token": OCSRF, "Sec-Fetch-Site": "cross-site"}))[0]
      == 403, "Sec-Fetch-Site: cross-site is 403")
st, d = get(q("/v1/events", acked="yes", host="web-b"), V)
check(d["events"] == [], "no refused cookie request acknowledged anything")
st, d = req("POST", ack2, {"note": "from the page"},
            headers=dict(ck(OC), **{"X-CSRF-Token": OCSRF, "Origin": args.url, "Sec-Fetch-Site": "same-origin"}))
check(st == 200 and d["ack"]["by"] == "page-op", "the page's ack, with cookie and CSRF token: %s %s" % (st, d))
st, d = req("POST", "/v1/session", tok=V)
VC2, VCSRF2 = cookie_of(H), d["csrf"]
check(req("POST", ack2, {"note": "x"}, headers=dict(ck(VC2), **{"X-CSRF-Token": VCSRF2}))[0] == 403,
      "a viewer's session may not ack")

# logout: CSRF-checked, then the stolen cookie is dead
check(req("POST", "/v1/logout", headers=ck(OC))[0] == 403, "logout without the CSRF token is 403")
check(get("/v1/hosts?limit=1", None, headers=ck(OC))[0] == 200, "and left the session alive")
st, d = req("POST", "/v1/logout", headers=dict(ck(OC), **{"X-CSRF-Token": OCSRF}))
check(st == 200 and "Max-Age=0" in H.get("set-cookie", ""), "logout clears the cookie")
check(get("/v1/hosts?limit=1", None, headers=ck(OC))[0] == 401, "a cookie kept after logout is 401")
check(req("POST", ack2, {"note": "x"}, headers=dict(ck(OC), **{"X-CSRF-Token": OCSRF}))[0] == 401,
      "and cannot ack")
check(req("POST", "/v1/logout", tok=V)[0] == 400, "logout needs a session")

# revoking the token ends its sessions
tid = [l.split()[0] for l in token("list").splitlines() if " page-viewer " in l and l.rstrip().endswith("active")]
check(len(tid) == 1, "the viewer's token id")
check(get("/v1/hosts?limit=1", None, headers=ck(VC))[0] == 200, "the viewer's session works before revoke")
token("revoke", tid[0])
check(get("/v1/hosts?limit=1", None, headers=ck(VC))[0] == 401, "a revoked token's session is 401")
check(get("/v1/hosts?limit=1", None, headers=ck(VC2))[0] == 401, "all of its sessions")
check(get("/v1/hosts?limit=1", V)[0] == 401, "and the token itself")

log = open(args.log, encoding="utf-8", errors="replace").read()
for secret in (V, OP, AD, VC, OC, OCSRF) + tuple(posted.values()):
    check(secret not in log, "no token, cookie or CSRF token in the hub's log")
check("auth: session opened for operator:page-op" in log, "sessions are logged by who, not by secret")
print("hub page API: %d checks passed" % T.checks)
