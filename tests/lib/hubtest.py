"""hubtest.py - what the hub's API test scripts share: counted checks that
stop at the first failure, tokens made with plumb-hub itself, and one HTTP
request helper (JSON bodies in and out, chunked uploads, the answer's
headers kept in .headers)."""
import http.client
import json
import subprocess
import sys
import urllib.parse


class Client:
    def __init__(self, url, hub, db):
        self.url = urllib.parse.urlparse(url)
        self.hub = hub
        self.db = db
        self.checks = 0
        self.headers = {}       # the last answer's, lower-cased names

    def check(self, cond, what):
        self.checks += 1
        if not cond:
            print("FAIL:", what, file=sys.stderr)
            sys.exit(1)

    def token(self, *a):
        return subprocess.run([self.hub, "--db", self.db, "token", *a], check=True,
                              capture_output=True, text=True).stdout.strip()

    def req(self, method, path, body=None, tok=None, headers=None, chunked=False, raw=False):
        c = http.client.HTTPConnection(self.url.hostname, self.url.port, timeout=30)
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
        self.headers.clear()
        self.headers.update({k.lower(): v for k, v in r.getheaders()})
        c.close()
        if raw:
            return r.status, data
        try:
            return r.status, json.loads(data) if data else None
        except ValueError:
            return r.status, data
