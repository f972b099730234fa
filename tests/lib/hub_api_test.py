#!/usr/bin/env python3
"""hub_api_test.py - drives a running plumb-hub over HTTP on loopback and
checks its contract: the auth matrix, idempotency, schema violations,
oversized bodies, stable pagination, filters, host status. Tokens are made
with the real `plumb-hub token` command. Exits non-zero on the first
failed check, naming it. Reports are cloned from a real agent report."""
import argparse
import copy
import http.client
import json
import subprocess
import time
import urllib.parse
import uuid

import hubtest

ap = argparse.ArgumentParser()
ap.add_argument("--hub", required=True)
ap.add_argument("--db", required=True)
ap.add_argument("--url", required=True)
ap.add_argument("--template", required=True, help="a real report from plumb --json")
ap.add_argument("--max-body", type=int, required=True)
ap.add_argument("--max-events", type=int, required=True)
ap.add_argument("--max-string", type=int, required=True)
ap.add_argument("--host-quota", type=int, required=True)
args = ap.parse_args()
u = urllib.parse.urlparse(args.url)
T = hubtest.Client(args.url, args.hub, args.db)
check, token, req = T.check, T.token, T.req
LAST_HEADERS = T.headers


template = json.load(open(args.template))
# The real report comes from an unsigned directory (unprotected); the hosts
# below enforce a signed baseline unless a check says otherwise.
template["baseline"].update(commit="0123456789abcdef0123456789abcdef01234567", signer="ci@example.com",
                            fingerprint="SHA256:" + "A" * 43)
template["mode"] = "enforce"


def report(host, events=None, **kw):
    d = copy.deepcopy(template)
    d["id"] = str(uuid.uuid4())
    d["host"] = host
    if events is not None:
        d["events"] = events
    d.update(kw)
    return d


def event(resource="file:/etc/motd", action="detected", at="2026-01-01T00:00:00Z"):
    return {"resource": resource, "drift": ["content"], "action": action,
            "expected": {"type": "file", "mode": "0644", "sha256": "a" * 64, "diff": "-old\n+new\n"},
            "actual": {"type": "file", "mode": "0644", "sha256": "b" * 64}, "at": at}


check(len(template.get("events", [])) > 0, "template report has events")
A1, A2 = token("add", "web1"), token("add", "web2")
V = token("add", "--viewer", "sre")
check(A1.startswith("pha_") and V.startswith("phv_") and A1 != A2, "token shapes")

# ---- auth matrix ----
r1 = report("web1")
check(req("POST", "/v1/reports", r1)[0] == 401, "POST without token is 401")
check(req("POST", "/v1/reports", r1, tok="pha_" + "0" * 64)[0] == 401, "POST with unknown token is 401")
check(req("POST", "/v1/reports", r1, tok="garbage")[0] == 401, "POST with malformed token is 401")
check(req("POST", "/v1/reports", r1, tok=V)[0] == 403, "viewer token may not POST")
st, doc = req("POST", "/v1/reports", r1, tok=A2)
check(st == 403 and "own host" in doc["error"], "agent token for web2 may not report as web1")
for path in ("/v1/hosts", "/v1/events", "/v1/reports/" + r1["id"]):
    check(req("GET", path)[0] == 401, "GET %s without token is 401" % path)
    check(req("GET", path, tok=A1)[0] == 403, "agent token may not GET %s" % path)
    check(req("GET", path, tok="phv_" + "1" * 64)[0] == 401, "unknown viewer token GET %s is 401" % path)
st, doc = req("GET", "/v1/hosts", tok=V)
check(st == 200 and doc["hosts"] == [], "nothing stored by refused requests")

# revocation
A3 = token("add", "web3")
lst = subprocess.run([args.hub, "--db", args.db, "token", "list"], capture_output=True, text=True, check=True).stdout
ids = [l.split()[0] for l in lst.splitlines()[1:] if l.split()[2] == "web3"]
check(len(ids) == 1, "token list shows web3 once")
st, doc = req("POST", "/v1/reports", report("web3"), tok=A3)
check(st == 201, "web3 token works before revocation (%d %r)" % (st, doc))
subprocess.run([args.hub, "--db", args.db, "token", "revoke", ids[0]], check=True, capture_output=True)
check(req("POST", "/v1/reports", report("web3"), tok=A3)[0] == 401, "revoked token is 401")
check("revoked" not in lst and "active" in lst, "list shows active tokens")
check(subprocess.run([args.hub, "--db", args.db, "token", "revoke", "zz"], capture_output=True).returncode == 1,
      "revoking a bad id fails")
check("pha_" not in subprocess.run([args.hub, "--db", args.db, "token", "list"], capture_output=True,
                                   text=True).stdout, "token list never shows a token")

# ---- idempotency ----
st, doc = req("POST", "/v1/reports", r1, tok=A1)
check(st == 201 and doc["duplicate"] is False, "first POST stores (201)")
nev = len(r1["events"])
st, doc = req("POST", "/v1/reports", r1, tok=A1)
check(st == 200 and doc["duplicate"] is True, "repeated id answers 200 duplicate")
st, doc = req("GET", "/v1/events?host=web1&limit=1000", tok=V)
check(len(doc["events"]) == nev, "a repeat stored no events (%d, want %d)" % (len(doc["events"]), nev))
hosts = {h["host"]: h for h in req("GET", "/v1/hosts", tok=V)[1]["hosts"]}
check(hosts["web1"]["counts"]["reports"] == 1, "a repeat is not counted")
st, body = req("GET", "/v1/reports/" + r1["id"], tok=V)
check(st == 200 and body == r1, "GET /v1/reports/ID returns the report as sent")
# Idempotency is per (host, id): another host reusing web1's id stores its own
# report, and web1's stays as it was.
r1_other = copy.deepcopy(r1)
r1_other["host"] = "web2"
r1_other["events"] = [event("file:/etc/web2-only")]
st, doc = req("POST", "/v1/reports", r1_other, tok=A2)
check(st == 201 and doc["duplicate"] is False, "the same id from another host is stored (got %d %r)" % (st, doc))
st, doc = req("GET", "/v1/events?host=web2&limit=1000", tok=V)
check([e["resource"] for e in doc["events"]] == ["file:/etc/web2-only"], "the other host's events are kept")
st, doc = req("GET", "/v1/events?host=web1&limit=1000", tok=V)
check(len(doc["events"]) == nev, "web1's events are untouched by the reuse")
st, body = req("GET", "/v1/reports/%s?host=web2" % r1["id"], tok=V)
check(st == 200 and body == r1_other, "GET /v1/reports/ID?host= picks the host's report")
st, body = req("GET", "/v1/reports/%s?host=web1" % r1["id"], tok=V)
check(st == 200 and body == r1, "and web1's is still web1's")
check(req("POST", "/v1/reports", r1_other, tok=A2)[0] == 200, "a repeat from web2 is web2's duplicate")
check(req("GET", "/v1/reports/" + str(uuid.uuid4()), tok=V)[0] == 404, "unknown report is 404")
check(req("GET", "/v1/reports/../../etc", tok=V)[0] == 404, "bad report id is 404")

# ---- malformed and schema-violating reports: 400/422, nothing stored ----
before = req("GET", "/v1/events?limit=1000", tok=V)[1]["events"]
for body in (b"", b"{", b"[1,2", b"\xff\xfe", b'{"a":1,"a":2}', b"null"):
    st, doc = req("POST", "/v1/reports", body, tok=A1, headers={"Content-Type": "application/json"})
    check(st in (400, 422), "malformed body %r answers 400/422 (got %d)" % (body, st))
    check(isinstance(doc, dict) and doc.get("error"), "malformed body %r gets a reason" % body)


def mutate(f):
    d = report("web1")
    f(d)
    return d


violations = {
    "missing id": lambda d: d.pop("id"),
    "bad uuid": lambda d: d.update(id="not-a-uuid"),
    "uppercase uuid": lambda d: d.update(id=d["id"].upper()),
    "unknown top key": lambda d: d.update(extra=1),
    "wrong schema": lambda d: d.update(schema="plumb.report/v2"),
    "bad mode": lambda d: d.update(mode="yolo"),
    "bad time": lambda d: d.update(started_at="2026-13-01T00:00:00Z"),
    "time with offset": lambda d: d.update(finished_at="2026-01-01T00:00:00+02:00"),
    "empty host": lambda d: d.update(host=""),
    "control char host": lambda d: d.update(host="web1\n"),
    "baseline commit": lambda d: d["baseline"].update(commit="XYZ"),
    "baseline fingerprint": lambda d: d["baseline"].update(fingerprint="MD5:aa"),
    "baseline stale false": lambda d: d["baseline"].update(stale=False),
    "baseline serial negative": lambda d: d["baseline"].update(serial=-1),
    "events not array": lambda d: d.update(events={}),
    "event bad action": lambda d: d["events"].append(dict(event(), action="exploded")),
    "event bad drift": lambda d: d["events"].append(dict(event(), drift=["colour"])),
    "event repeated drift": lambda d: d["events"].append(dict(event(), drift=["mode", "mode"])),
    "event bad resource": lambda d: d["events"].append(dict(event(), resource="/etc/motd")),
    "event missing actual": lambda d: d["events"].append({k: v for k, v in event().items() if k != "actual"}),
    "event extra key": lambda d: d["events"].append(dict(event(), extra=True)),
    "state bad mode": lambda d: d["events"].append(dict(event(), actual={"mode": "644"})),
    "state bad sha": lambda d: d["events"].append(dict(event(), actual={"sha256": "A" * 64})),
    "state diff too long": lambda d: d["events"].append(dict(event(), actual={"diff": "x" * 8193})),
    "state sensitive false": lambda d: d["events"].append(dict(event(), actual={"sensitive": False})),
    "count zero": lambda d: d["events"].append(dict(event(), count=0)),
    "summary missing": lambda d: d.pop("summary"),
    "summary float": lambda d: d["summary"].update(resources=1.5),
    "spool unknown": lambda d: d.update(spool={"x": 1}),
    "finished in the future": lambda d: d.update(finished_at="9999-12-31T23:59:59Z"),
    "started in the future": lambda d: d.update(started_at="9999-12-31T23:59:59Z"),
    "finished before retention": lambda d: d.update(finished_at="2020-01-01T00:00:00Z"),
    "event in the future": lambda d: d["events"].append(dict(event(), at="9999-12-31T23:59:59Z")),
    "error too long": lambda d: d["events"].append(dict(event(), error="e" * (args.max_string + 1))),
    "signer too long": lambda d: d["baseline"].update(signer="s" * (args.max_string + 1)),
    "target too long": lambda d: d["events"].append(dict(event(), actual={"target": "t" * (args.max_string + 1)})),
    "too many events": lambda d: d.update(events=[event() for _ in range(args.max_events + 1)]),
}
for name, f in violations.items():
    st, doc = req("POST", "/v1/reports", mutate(f), tok=A1)
    check(st == 422, "%s: answers 422 (got %d %r)" % (name, st, doc))
    check("plumb.report/v1" in doc["error"], "%s: reason names the schema" % name)
st, doc = req("POST", "/v1/reports", mutate(lambda d: d["events"].append(dict(event(), action="exploded"))), tok=A1)
check("events[%d].action" % len(r1["events"]) in doc["error"], "reason names the JSON path: %s" % doc["error"])
named = {
    "finished in the future": "finished_at: ahead of the hub's clock",
    "finished before retention": "finished_at: older than the hub's retention",
    "error too long": "events[%d].error: longer than %d bytes" % (len(r1["events"]), args.max_string),
    "signer too long": "baseline.signer: longer than %d bytes" % args.max_string,
    "too many events": "events: more than %d events" % args.max_events,
}
for name, want in named.items():
    st, doc = req("POST", "/v1/reports", mutate(violations[name]), tok=A1)
    check(st == 422 and want in doc["error"], "%s: the reason names the field (%r)" % (name, doc))
at_cap = mutate(lambda d: d["events"].append(dict(event(), error="e" * args.max_string)))
check(req("POST", "/v1/reports", at_cap, tok=A1)[0] == 201, "a string of exactly --max-string is stored")
after = req("GET", "/v1/events?limit=1000", tok=V)[1]["events"]
before = before + [e for e in after if e["report"] == at_cap["id"]]
check(len(after) == len(before), "refused reports stored nothing")

# ---- oversized bodies: 413 ----
big = report("web1", events=[dict(event(), error="x" * 4000) for _ in range(args.max_body // 4000 + 2)])
st, doc = req("POST", "/v1/reports", big, tok=A1)
check(st == 413, "body over --max-body answers 413 (got %d)" % st)
st, doc = req("POST", "/v1/reports", json.dumps(big).encode(), tok=A1, chunked=True)
check(st == 413, "chunked body over --max-body answers 413 (got %d)" % st)
st, doc = req("POST", "/v1/reports", big, tok=A2)
check(st in (403, 413), "oversized body from the wrong host is still refused (got %d)" % st)
ok = report("web1", events=[dict(event(), error="x" * 1000) for _ in range(args.max_body // 2000)])
check(req("POST", "/v1/reports", ok, tok=A1)[0] == 201, "body under --max-body is stored")
check(req("POST", "/v1/reports", report("web1"), tok=A1, chunked=True)[0] == 201, "chunked body is stored")

# ---- pagination: stable under inserts, no duplicates, nothing missed ----
A4 = token("add", "pager")
for i in range(5):
    evs = [event("file:/etc/f%02d-%02d" % (i, j), at="2026-02-0%dT00:00:%02dZ" % (i + 1, j)) for j in range(50)]
    check(req("POST", "/v1/reports", report("pager", evs), tok=A4)[0] == 201, "pager report %d" % i)
seen, cursor, pages = [], None, 0
while True:
    q = "/v1/events?host=pager&limit=40" + ("&before=%d" % cursor if cursor else "")
    st, doc = req("GET", q, tok=V)
    check(st == 200, "page %d answers 200" % pages)
    seen += [e["seq"] for e in doc["events"]]
    pages += 1
    if pages == 2:  # new reports arrive while the SRE pages
        req("POST", "/v1/reports", report("pager", [event("file:/etc/late")]), tok=A4)
    cursor = doc["next"]
    if cursor is None or pages > 20:
        break
check(len(seen) == 250 and len(set(seen)) == 250, "250 events over %d pages, no duplicates (got %d)" % (pages, len(seen)))
check(seen == sorted(seen, reverse=True), "pages run newest first")
check(pages == 7, "40 per page gives 7 pages (got %d)" % pages)
for bad in ("limit=0", "limit=1001", "limit=x", "before=-1", "since=yesterday"):
    check(req("GET", "/v1/events?" + bad, tok=V)[0] == 400, "bad query %s is 400" % bad)

# ---- filters ----
st, doc = req("GET", "/v1/events?host=pager&resource=file:/etc/f02-07", tok=V)
check([e["resource"] for e in doc["events"]] == ["file:/etc/f02-07"], "resource filter")
st, doc = req("GET", "/v1/events?host=pager&since=2026-02-05T00:00:00Z&limit=1000", tok=V)
check(len(doc["events"]) == 50 and all(e["at"] >= "2026-02-05" for e in doc["events"]), "since filter")
req("POST", "/v1/reports", report("pager", [event("file:/etc/x", action="reverted")]), tok=A4)
st, doc = req("GET", "/v1/events?action=reverted", tok=V)
check(len(doc["events"]) == 1 and doc["events"][0]["host"] == "pager", "action filter")
check(doc["events"][0]["expected"]["diff"] == "-old\n+new\n", "event keeps expected/actual")

# ---- host status ----
def status(h):
    return {x["host"]: x for x in req("GET", "/v1/hosts", tok=V)[1]["hosts"]}[h]


check(status("pager")["status"] == "compliant", "a host whose newest report reverted everything is compliant")
req("POST", "/v1/reports", report("pager", [event()]), tok=A4)
check(status("pager")["status"] == "drifting", "unresolved drift makes a host drifting")
hb = report("pager", [])
hb["baseline"]["stale"] = True
req("POST", "/v1/reports", hb, tok=A4)
check(status("pager")["status"] == "stale", "an expired baseline makes a compliant host stale")
# One report dated far ahead can no longer freeze a host: it is refused, and
# the next real report decides the state (receive order, not agent clocks).
future = report("pager", [], finished_at="9999-12-31T23:59:59Z")
check(req("POST", "/v1/reports", future, tok=A4)[0] == 422, "a report from the future is refused")
p = status("pager")
check(p["status"] == "stale" and p["last_report"] == hb["id"], "the refused report changed nothing")
late = report("pager", [event(action="failed")],
              finished_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 86400)))
check(req("POST", "/v1/reports", late, tok=A4)[0] == 201, "an older but retained report is stored")
p = status("pager")
check(p["status"] == "drifting" and p["last_report"] == late["id"],
      "the newest report received decides the state, whatever its finished_at (%r)" % p)
ok_now = report("pager", [])
req("POST", "/v1/reports", ok_now, tok=A4)
check(status("pager")["status"] == "compliant", "and the next real report is the state again")
# A run split into parts (run.id): a later part without drift does not hide
# an earlier part's; a report of another run decides afresh.
run_id = str(uuid.uuid4())
p1 = report("pager", [event(action="failed")], run={"id": run_id, "part": 1, "parts": 2})
p2 = report("pager", [event("file:/etc/y", action="reverted")], run={"id": run_id, "part": 2, "parts": 2})
check(req("POST", "/v1/reports", p1, tok=A4)[0] == 201 and req("POST", "/v1/reports", p2, tok=A4)[0] == 201,
      "both parts of a split run are stored")
check(status("pager")["status"] == "drifting", "a later part of a run does not hide an earlier part's failure")
req("POST", "/v1/reports", report("pager", [], run={"id": str(uuid.uuid4()), "part": 1, "parts": 1}), tok=A4)
check(status("pager")["status"] == "compliant", "a report of the next run decides the state afresh")

# refused: the newest report refused a baseline tip (or rolled back a firewall
# change); shown with the reason, even though nothing drifted.
A5 = token("add", "ref1")
refused = dict(event("baseline", action="refused"), drift=[], expected=None, actual=None,
               error="commit 0123abc is signed by an unknown key")
check(req("POST", "/v1/reports", report("ref1", [refused]), tok=A5)[0] == 201, "a refusal is stored")
p = status("ref1")
check(p["status"] == "refused" and "unknown key" in p["reason"], "a refused tip makes the host refused (%r)" % p)
# A long reason in two-byte characters is cut at a character boundary: the
# report is stored on both engines (PostgreSQL refuses broken UTF-8).
long_refusal = dict(refused, error="\u00e9" * 3000)
check(req("POST", "/v1/reports", report("ref1", [long_refusal]), tok=A5)[0] == 201, "a long multibyte refusal is stored")
p = status("ref1")
check(p["status"] == "refused" and p["reason"].endswith("\u00e9") and len(p["reason"].encode()) < 600,
      "its reason is cut whole characters short (%d bytes)" % len(p["reason"].encode()))
rb = dict(event("firewall:nftables:inet plumb", action="rolled-back"), drift=["rules"])
req("POST", "/v1/reports", report("ref1", [rb]), tok=A5)
check(status("ref1")["status"] == "refused", "a rolled-back firewall change makes the host refused")
# unprotected: no signed baseline, or audit mode.
A6 = token("add", "unp1")
uns = report("unp1", [])
uns["baseline"].update(commit=None, signer=None, fingerprint=None)
req("POST", "/v1/reports", uns, tok=A6)
p = status("unp1")
check(p["status"] == "unprotected" and "no signed baseline" in p["reason"], "an unsigned baseline is unprotected (%r)" % p)
req("POST", "/v1/reports", report("unp1", [], mode="audit"), tok=A6)
p = status("unp1")
check(p["status"] == "unprotected" and "audit" in p["reason"], "audit mode is unprotected (%r)" % p)
for want in ("refused", "unprotected"):
    st, doc = req("GET", "/v1/hosts?status=" + want, tok=V)
    check(st == 200 and [h["host"] for h in doc["hosts"]] == [{"refused": "ref1", "unprotected": "unp1"}[want]],
          "status filter %s (%r)" % (want, doc))
    check(doc["summary"][want] == 1, "summary counts %s" % want)

# The storage quota: a host past --host-quota gets 429 + Retry-After and
# nothing more is stored; other hosts are not affected.
A7 = token("add", "hog")
chunk = report("hog", [dict(event("file:/etc/hog%d" % i), error="h" * (args.max_string - 100)) for i in range(3)])
size = len(json.dumps(chunk))
stored = 0
for i in range(args.host_quota // size + 3):
    chunk["id"] = str(uuid.uuid4())
    st, doc = req("POST", "/v1/reports", chunk, tok=A7)
    if st == 429:
        break
    check(st == 201, "hog report %d stored under the quota (got %d)" % (i, st))
    stored += 1
check(st == 429 and "quota" in doc["error"], "past --host-quota: 429 (got %d %r)" % (st, doc))
check(int(LAST_HEADERS.get("retry-after", "0")) > 0, "the 429 says when to retry")
check(stored * size <= args.host_quota and (stored + 1) * size > args.host_quota,
      "the quota stored %d reports of %d bytes under %d" % (stored, size, args.host_quota))
hog = []
cursor = None
for _ in range(100):
    d = req("GET", "/v1/events?host=hog&limit=1000" + ("&before=%d" % cursor if cursor else ""), tok=V)[1]
    hog += d["events"]
    cursor = d["next"]
    if cursor is None:
        break
check(len(hog) == stored * 3, "nothing past the quota was stored (%d events)" % len(hog))
check(req("POST", "/v1/reports", report("pager", []), tok=A4)[0] == 201, "other hosts still report")

# /v1/events pages are bounded in bytes as well as rows: the hog's events fill
# pages that stop early and still page through everything.
seen, cursor, pages = 0, None, 0
for _ in range(200):
    pages += 1
    q = "/v1/events?host=hog&limit=1000" + ("&before=%d" % cursor if cursor else "")
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    c.request("GET", q, headers={"Authorization": "Bearer " + V})
    r = c.getresponse()
    raw = r.read()
    c.close()
    check(len(raw) <= 4 * 1024 * 1024 + 65536, "an events page stays under 4 MiB (%d)" % len(raw))
    d = json.loads(raw)
    seen += len(d["events"])
    cursor = d["next"]
    if cursor is None:
        break
check(seen == len(hog), "paging by bytes loses nothing (%d of %d)" % (seen, len(hog)))
check(len(hog) * args.max_string > 4 * 1024 * 1024 and pages > 1,
      "the hog's events (%d) do not fit one page by bytes (%d pages)" % (len(hog), pages))
st, doc = req("GET", "/v1/hosts?status=drifting", tok=V)
check(st == 200 and all(h["status"] == "drifting" for h in doc["hosts"]) and doc["hosts"], "status filter")
check(doc["summary"]["total"] == 7, "summary counts every host (got %r)" % doc["summary"])
check(req("GET", "/v1/hosts?status=bogus", tok=V)[0] == 400, "bad status filter is 400")

# ---- the page and its assets: served by the hub, with a strict CSP ----
c = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
c.request("GET", "/")
r = c.getresponse()
page = r.read().decode()
check(r.status == 200 and "<title>plumb hub</title>" in page, "GET / serves the page")
check("script-src 'self'" in r.getheader("Content-Security-Policy", ""), "page has a CSP")
check("http://" not in page and "https://" not in page, "page loads nothing from elsewhere")
for a in ("/app.js", "/app.css"):
    check(req("GET", a)[0] == 200, "asset %s served" % a)
check(req("DELETE", "/v1/hosts", tok=V)[0] == 405, "other methods are 405")
print("hub API: %d checks passed" % T.checks)
