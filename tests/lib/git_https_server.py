#!/usr/bin/env python3
"""git_https_server.py - a smart-HTTP git server for tests: `git http-backend`
behind TLS 1.2 on 127.0.0.1, or (--stall) a server that accepts connections
and never answers. Writes its port to --port-file; exits after --lifetime s."""
import argparse
import http.server
import os
import socket
import ssl
import subprocess
import sys
import threading
import time

ap = argparse.ArgumentParser()
ap.add_argument("--root", help="GIT_PROJECT_ROOT")
ap.add_argument("--cert")
ap.add_argument("--key")
ap.add_argument("--port-file", required=True)
ap.add_argument("--stall", action="store_true")
ap.add_argument("--lifetime", type=float, default=300)
args = ap.parse_args()

threading.Timer(args.lifetime, lambda: os._exit(0)).start()


def write_port(port):
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(port))
    os.rename(tmp, args.port_file)


if args.stall:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(16)
    write_port(s.getsockname()[1])
    held = []
    while True:
        c, _ = s.accept()
        held.append(c)          # accept, then say nothing, ever


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, fmt, *a):
        sys.stderr.write("git-https: " + fmt % a + "\n")

    def body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            out = b""
            while True:
                n = int(self.rfile.readline().strip().split(b";")[0], 16)
                if n == 0:
                    self.rfile.readline()
                    return out
                out += self.rfile.read(n)
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length", 0)))

    def cgi(self, data):
        path, _, query = self.path.partition("?")
        env = {
            "GIT_PROJECT_ROOT": args.root, "GIT_HTTP_EXPORT_ALL": "1", "PATH_INFO": path,
            "QUERY_STRING": query, "REQUEST_METHOD": self.command, "REMOTE_ADDR": "127.0.0.1",
            "CONTENT_TYPE": self.headers.get("Content-Type", ""), "CONTENT_LENGTH": str(len(data)),
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        }
        if self.headers.get("Content-Encoding"):
            env["HTTP_CONTENT_ENCODING"] = self.headers["Content-Encoding"]
        out = subprocess.run(["git", "http-backend"], input=data, env=env, capture_output=True).stdout
        head, _, payload = out.partition(b"\r\n\r\n")
        status, headers = 200, []
        for line in head.split(b"\r\n"):
            k, _, v = line.decode().partition(":")
            if k.lower() == "status":
                status = int(v.strip().split()[0])
            elif k:
                headers.append((k, v.strip()))
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def do_GET(self):
        self.cgi(b"")

    def do_POST(self):
        self.cgi(self.body())


srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.maximum_version = ssl.TLSVersion.TLSv1_2       # Debian's libgit2 (mbedTLS 2.28) speaks TLS 1.2
ctx.load_cert_chain(args.cert, args.key)
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
write_port(srv.server_address[1])
srv.serve_forever()
