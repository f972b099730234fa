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
import sys
import urllib.parse
import uuid

ap = argparse.ArgumentParser()
ap.add_argument("--hub", required=True)
ap.add_argument("--db", required=True)
ap.add_argument("--url", required=True)
ap.add_argument("--template", required=True, help="a real report from plumb --json")
ap.add_argument("--max-body", type=int, required=True)
args = ap.parse_args()
u = urllib.parse.urlparse(args.url)
checks = 0


def check(cond, what):
    global checks
    checks += 1
    if not cond:
        print("FAIL:", what, file=sys.stderr)
        sys.exit(1)


def token(*a):
    out = subprocess.run([args.hub, "--db", args.db, "token", *a], check=True,
                         capture_output=True, text=True)
    return out.stdout.strip()


def req(method, path, body=None, tok=None, headers=None, chunked=False):
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    h = dict(headers or {})
    if tok:
        h["Authorization"] = "Bearer " + tok
    if isinstance(body, (dict, list)):
        body = json.dumps(body).encode()
    if chunked:
        c.putrequest(method, path)
        for k, v in h.items():
            c.putheader(k, v)
        c.putheader("Transfer-Encoding", "chunked")
        c.endheaders()
        for i in range(0, len(body), 16384):
            part = body[i:i + 16384]
            try:
                c.send(b"%x\r\n%s\r\n" % (len(part), part))
            except (BrokenPipeError, ConnectionResetError):
                break
        try:
            c.send(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass
    else:
        c.request(method, path, body=body, headers=h)
    r = c.getresponse()
    data = r.read()
    c.close()
    try:
        doc = json.loads(data) if data else None
    except ValueError:
        doc = data
    return r.status, doc


template = json.load(open(args.template))


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
}
for name, f in violations.items():
    st, doc = req("POST", "/v1/reports", mutate(f), tok=A1)
    check(st == 422, "%s: answers 422 (got %d %r)" % (name, st, doc))
    check("plumb.report/v1" in doc["error"], "%s: reason names the schema" % name)
st, doc = req("POST", "/v1/reports", mutate(lambda d: d["events"].append(dict(event(), action="exploded"))), tok=A1)
check("events[%d].action" % len(r1["events"]) in doc["error"], "reason names the JSON path: %s" % doc["error"])
after = req("GET", "/v1/events?limit=1000", tok=V)[1]["events"]
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
old = report("pager", [event()], finished_at="2020-01-01T00:00:00Z")
req("POST", "/v1/reports", old, tok=A4)
p = status("pager")
check(p["status"] == "stale" and p["last_report"] == hb["id"], "a late, older report does not roll state back")
st, doc = req("GET", "/v1/hosts?status=drifting", tok=V)
check(st == 200 and all(h["status"] == "drifting" for h in doc["hosts"]) and doc["hosts"], "status filter")
check(doc["summary"]["total"] == 3, "summary counts every host (got %r)" % doc["summary"])
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
print("hub API: %d checks passed" % checks)
