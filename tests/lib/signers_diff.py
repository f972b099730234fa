#!/usr/bin/env python3
# signers_diff.py - differential test of plumb's allowed_signers reading and
# signature armor against the real oracles: `git verify-commit` (with
# gpg.ssh.allowedSignersFile) and `ssh-keygen -Y verify -I P -n git`.
# Unsafe (plumb accepts where an oracle rejects) fails; where plumb is
# deliberately stricter, a fixed case says so and asserts both verdicts.
# Usage: signers_diff.py PLUMB WORKDIR [--seed N] [--mutations N]
import argparse
import base64
import os
import random
import struct
import subprocess
import sys

ap = argparse.ArgumentParser()
ap.add_argument("plumb")
ap.add_argument("work")
ap.add_argument("--seed", type=int, default=14)
ap.add_argument("--mutations", type=int, default=300)
args = ap.parse_args()

W = args.work
ENV = dict(os.environ, TZ="UTC", GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL="/dev/null",
           GIT_AUTHOR_NAME="pipeline", GIT_AUTHOR_EMAIL="pipeline@example.com",
           GIT_COMMITTER_NAME="pipeline", GIT_COMMITTER_EMAIL="pipeline@example.com")
SIGNERS = os.path.join(W, "allowed_signers")


def run(argv, inp=None, cwd=None):
    p = subprocess.run(argv, input=inp, cwd=cwd, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    return p.returncode, p.stdout, p.stderr


def must(argv, **kw):
    rc, out, err = run(argv, **kw)
    if rc != 0:
        sys.exit("setup failed: %s: %s" % (" ".join(argv), err.decode(errors="replace")))
    return out


def keygen(name, *opts):
    path = os.path.join(W, "keys", name)
    must(["ssh-keygen", "-q", "-N", "", "-C", name, "-f", path] + list(opts))
    return path


def pub(path):
    return open(path + ".pub").read().split()[:2]      # [type, base64]


def sshstr(b):
    return struct.pack(">I", len(b)) + b


# --- fixtures: keys, one signed repository per signer key type ---------------
os.makedirs(os.path.join(W, "keys"), exist_ok=True)
K = {}
for name, opts in [("ed", ["-t", "ed25519"]), ("ec", ["-t", "ecdsa", "-b", "256"]),
                   ("rsa", ["-t", "rsa", "-b", "2048"]), ("other", ["-t", "ed25519"]),
                   ("rsa1024", ["-t", "rsa", "-b", "1024"]), ("dsa", ["-t", "dsa"]), ("ca", ["-t", "ed25519"])]:
    K[name] = keygen(name, *opts)
must(["ssh-keygen", "-q", "-s", K["ca"], "-I", "cert", "-n", "ci@example.com", K["other"] + ".pub"])
CERT = open(K["other"] + "-cert.pub").read().split()[:2]
LINE = {n: " ".join(pub(K[n])) for n in K}
# keys ssh-keygen cannot make here: a security key's public half is just a blob
SK_ED = "sk-ssh-ed25519@openssh.com " + base64.b64encode(
    sshstr(b"sk-ssh-ed25519@openssh.com") + sshstr(os.urandom(32)) + sshstr(b"ssh:")).decode()
SK_EC = "sk-ecdsa-sha2-nistp256@openssh.com " + base64.b64encode(
    sshstr(b"sk-ecdsa-sha2-nistp256@openssh.com") + sshstr(b"nistp256") +
    sshstr(base64.b64decode(pub(K["ec"])[1])[39:]) + sshstr(b"ssh:")).decode()


def rsa_nonminimal_e():
    """The rsa key with a leading zero byte on e: OpenSSH reads the same key."""
    blob = base64.b64decode(pub(K["rsa"])[1])
    t, rest = blob[4:11], blob[11:]
    (elen,) = struct.unpack(">I", rest[:4])
    e, n = rest[4:4 + elen], rest[4 + elen:]
    return "ssh-rsa " + base64.b64encode(sshstr(t) + sshstr(b"\0" + e) + n).decode()


REPOS = {}
for signer in ("ed", "ec", "rsa"):
    repo = os.path.join(W, "repo-" + signer)
    must(["git", "init", "-q", "-b", "main", repo])
    must(["git", "-C", repo, "config", "gpg.format", "ssh"])
    open(os.path.join(repo, "baseline.yaml"), "w").write("version: 1\nserial: 1\nfiles: []\n")
    must(["git", "-C", repo, "add", "-A"])
    must(["git", "-C", repo, "-c", "user.signingkey=" + K[signer], "commit", "-q", "-S", "-m", "baseline 1"])
    raw = must(["git", "-C", repo, "cat-file", "commit", "HEAD"])
    REPOS[signer] = {"path": repo, "raw": raw, "head": must(["git", "-C", repo, "rev-parse", "HEAD"]).decode().strip()}


def split_commit(raw):
    """payload (gpgsig header removed) and the armored signature, as git does."""
    head, _, body = raw.partition(b"\n\n")
    payload, sig, in_sig = [], [], False
    for line in head.split(b"\n"):
        if line.startswith(b"gpgsig "):
            in_sig = True
            sig.append(line[7:])
        elif in_sig and line.startswith(b" "):
            sig.append(line[1:])
        else:
            in_sig = False
            payload.append(line)
    return b"\n".join(payload) + b"\n\n" + body, b"\n".join(sig) + b"\n"


for r in REPOS.values():
    r["payload"], r["sig"] = split_commit(r["raw"])
    open(r["path"] + ".sig", "wb").write(r["sig"])


def cfg_for(signer):
    path = os.path.join(W, "agent-%s.yaml" % signer)
    state = os.path.join(W, "state-" + signer)
    os.makedirs(state, exist_ok=True)
    with open(path, "w") as f:
        f.write("source:\n  url: %s\n  allowed_signers: %s\nstate_dir: %s\nroot: %s\n" %
                (REPOS[signer]["path"], SIGNERS, state, os.path.join(W, "root")))
    return path


os.makedirs(os.path.join(W, "root"), exist_ok=True)
CFG = {s: cfg_for(s) for s in REPOS}


# --- the three verdicts ---------------------------------------------------------
def plumb_verdict(signer):
    rc, out, err = run([args.plumb, "-c", CFG[signer], "verify"])
    principal = None      # bytes: a principal may hold any byte but NUL and newline
    for line in out.split(b"\n"):
        if line.startswith(b"signer      "):
            principal = line[len(b"signer      "):]
    return rc == 0, principal, err.decode(errors="replace")


def git_verdict(signer):
    rc, _, _ = run(["git", "-C", REPOS[signer]["path"], "-c", "gpg.ssh.allowedSignersFile=" + SIGNERS,
                    "verify-commit", "HEAD"])
    return rc == 0


def keygen_verdict(signer, principal):
    rc, out, _ = run([b"ssh-keygen", b"-Y", b"verify", b"-f", SIGNERS.encode(), b"-I", principal, b"-n", b"git",
                      b"-s", (REPOS[signer]["path"] + ".sig").encode()], inp=REPOS[signer]["payload"])
    return rc == 0 and out.startswith(b"Good")


unsafe, failures, stricter = [], [], []
ncases = [0]


def check(name, content, signer="ed", plumb=None, git=None, why=None, warn=None):
    """Writes content as allowed_signers and compares. plumb/git: expected
    verdicts (None: only the safety rule applies)."""
    ncases[0] += 1
    with open(SIGNERS, "wb") as f:
        f.write(content if isinstance(content, bytes) else content.encode())
    p_ok, principal, err = plumb_verdict(signer)
    g_ok = git_verdict(signer)
    k_ok = keygen_verdict(signer, principal) if p_ok and principal else None
    if p_ok and principal and len(principal) >= 255:
        k_ok = g_ok          # plumb reports at most 255 bytes of a principal: git's verdict stands in
    if p_ok and (not g_ok or not k_ok):
        unsafe.append("%s: plumb accepts (principal %r) but git %s, ssh-keygen -I %s" %
                      (name, principal, "accepts" if g_ok else "rejects", "accepts" if k_ok else "rejects"))
    if plumb is not None and p_ok != plumb:
        failures.append("%s: plumb %s, expected %s; stderr: %s" % (name, p_ok, plumb, err.strip()[-300:]))
    if git is not None and g_ok != git:
        failures.append("%s: git %s, expected %s (the oracle changed?)" % (name, g_ok, git))
    if warn is not None and warn not in err:
        failures.append("%s: plumb's stderr lacks %r: %s" % (name, warn, err.strip()[-300:]))
    if g_ok and not p_ok:
        stricter.append((name, why))
    return p_ok, g_ok


ED, EC, RSA, OTHER = LINE["ed"], LINE["ec"], LINE["rsa"], LINE["other"]
P = "ci@example.com"

# --- fixed cases: issue 14 item 3 (principals, options, quoting, dates) -------
cases = [
    ("good line", "%s %s\n" % (P, ED), True, True),
    ("negated *", "!* %s\n" % ED, False, False),
    ("negated other principal only", "!mallory@example.com %s\n" % ED, False, False),
    ("principal and its negation", "%s,!%s %s\n" % (P, P, ED), False, False),
    ("negated * then principal", "!*,%s %s\n" % (P, ED), False, False),
    ("* with a negation of someone else", "*,!mallory@example.com %s\n" % ED, True, True),
    ("duplicate valid-before revives nothing", '%s valid-before="20000101",valid-before="20991231" %s\n' % (P, ED), False, False),
    ("duplicate namespaces", '%s namespaces="file",namespaces="git" %s\n' % (P, ED), False, False),
    ("duplicate valid-after", '%s valid-after="20991231",valid-after="20000101" %s\n' % (P, ED), False, False),
    ("negated 300-byte namespace pattern", '%s namespaces="!git%s,*" %s\n' % (P, "*" * 300, ED), False, False),
    ("negated 1100-byte namespace pattern", '%s namespaces="!git%s,*" %s\n' % (P, "*" * 1100, ED), False, False),
    ("300-byte namespace pattern", '%s namespaces="git%s" %s\n' % (P, "*" * 300, ED), True, True),
    ("1100-byte namespace pattern", '%s namespaces="git%s" %s\n' % (P, "*" * 1100, ED), False, False),
    ("1022-byte namespace pattern", '%s namespaces="git%s" %s\n' % (P, "*" * 1019, ED), True, True),
    ("1023-byte namespace pattern", '%s namespaces="git%s" %s\n' % (P, "*" * 1020, ED), False, False),
    ("unquoted namespaces", "%s namespaces=git %s\n" % (P, ED), False, False),
    ("unquoted valid-before", "%s valid-before=20991231 %s\n" % (P, ED), False, False),
    ("trailing comma in options", '%s namespaces="git", %s\n' % (P, ED), False, False),
    ("leading comma in options (OpenSSH skips the empty option)", '%s ,namespaces="git" %s\n' % (P, ED), True, True),
    ("empty option between commas", '%s namespaces="git",,valid-after="20000101" %s\n' % (P, ED), True, True),
    ("quote inside a principal", 'ci"@example.com %s\n' % ED, False, False),
    ("quoted principal with a space", '"ci example" %s\n' % ED, True, True),
    ("quoted run inside a principal", 'ci"@exa"mple.com %s\n' % ED, False, False),
    ("valid-after 19700101Z", '%s valid-after="19700101Z" %s\n' % (P, ED), False, False),
    ("valid-after 19691231Z", '%s valid-after="19691231Z" %s\n' % (P, ED), False, False),
    ("valid-after 19700102Z", '%s valid-after="19700102Z" %s\n' % (P, ED), True, True),
    ("principal of 1100 bytes", "%s %s\n" % ("p" * 1100, ED), False, False),
    ("principal of 1000 bytes", "%s %s\n" % ("p" * 1000, ED), True, True),
    ("expired", '%s valid-before="20000101" %s\n' % (P, ED), False, False),
    ("not yet valid", '%s valid-after="20990101" %s\n' % (P, ED), False, False),
    ("inside its window", '%s valid-after="20000101",valid-before="20991231235959Z" %s\n' % (P, ED), True, True),
    ("valid-before UTC suffix", '%s valid-before="20991231UTC" %s\n' % (P, ED), True, True),
    ("valid-before before valid-after", '%s valid-after="20991231",valid-before="20000101" %s\n' % (P, ED), False, False),
    ("bad month", '%s valid-before="20991331" %s\n' % (P, ED), False, False),
    ("13-digit date", '%s valid-before="2099123100001" %s\n' % (P, ED), False, False),
    ("upper-case option names", '%s NAMESPACES="git",Valid-Before="20991231" %s\n' % (P, ED), True, True),
    ("namespace file only", '%s namespaces="file" %s\n' % (P, ED), False, False),
    ("namespaces file,git", '%s namespaces="file,git" %s\n' % (P, ED), True, True),
    ("namespaces *,!git", '%s namespaces="*,!git" %s\n' % (P, ED), False, False),
    ("namespaces g?t", '%s namespaces="g?t" %s\n' % (P, ED), True, True),
    ("escaped quote in namespaces", '%s namespaces="g\\"it" %s\n' % (P, ED), False, False),
    ("unknown option", '%s colour="red" %s\n' % (P, ED), False, False),
    ("unknown key", "%s %s\n" % (P, OTHER), False, False),
    ("key type word mismatch", "%s ssh-rsa %s\n" % (P, ED.split()[1]), False, False),
    ("lower-case type word", "%s SSH-ED25519 %s\n" % (P, ED.split()[1]), False, False),
    ("key with a bad base64 char", "%s %s!\n" % (P, ED), False, False),
    ("key truncated", "%s %s\n" % (P, ED[:-4]), False, False),
    ("comment after the key", "%s %s the pipeline key\n" % (P, ED), True, True),
    ("CRLF line", "%s %s\r\n" % (P, ED), True, True),
    ("tab separated", "%s\t%s\n" % (P, ED.replace(" ", "\t")), True, True),
    ("leading blank and comment lines", "\n# comment\n   \n%s %s\n" % (P, ED), True, True),
    ("no newline at the end", "%s %s" % (P, ED), True, True),
    ("a NUL byte after the key (ssh-keygen reads up to it)", b"%s %s\0junk\n" % (P.encode(), ED.encode()), True, True),
    ("a,,b: ssh-keygen names only a", "a,,b %s\n" % ED, True, True),
    (",a: ssh-keygen names no principal", ",a %s\n" % ED, False, False),
    ("cert-authority line only", "%s cert-authority %s\n" % (P, ED), False, False),
    ("cert-authority option in upper case", "%s CERT-AUTHORITY,namespaces=\"git\" %s\n" % (P, ED), False, False),
    # git's two steps: the first line listing the key names the principals
    ("first line's namespace refuses, second line names another", '%s namespaces="file" %s\nzz %s\n' % (P, ED, ED), False, False),
    ("first line negated, second line good", "!x %s\n%s %s\n" % (ED, P, ED), False, False),
    ("first line expired, second line good", '%s valid-before="20000101" %s\nzz %s\n' % (P, ED, ED), True, True),
    ("a pattern principal admitted by a later line", "ci* %s\n*,!zz %s\n" % (ED, ED), True, True),
    ("first line names a, another key's line admits a", "a %s\na %s\n" % (ED, OTHER), True, True),
]
for name, content, p, g in cases:
    check(name, content, plumb=p, git=g)
# deliberately stricter: a principal of 1023 bytes or more is never admitted
# (git admits it through a later "*" line; refusing it bounds the matching)
check("principal of 1100 bytes admitted by a later * line", "%s %s\n* %s\n" % ("p" * 1100, ED, ED),
      plumb=False, git=True, why="principals of 1023 bytes or more are refused")

# ECDSA and RSA signers: padding and key encodings
ecb = EC.split()[1]
check("ecdsa key", "%s %s\n" % (P, EC), "ec", True, True)
check("ecdsa key without its = padding", "%s ecdsa-sha2-nistp256 %s\n" % (P, ecb.rstrip("=")), "ec", False, False)
check("ecdsa key with a space inside (b64_pton skips \\v)", "%s ecdsa-sha2-nistp256 %s\v%s\n" % (P, ecb[:8], ecb[8:]), "ec", True, True)
check("ecdsa key under the wrong curve name", "%s ecdsa-sha2-nistp384 %s\n" % (P, ecb), "ec", False, False)
check("rsa key", "%s %s\n" % (P, RSA), "rsa", True, True)
check("rsa-sha2-256 as the key type word", "%s rsa-sha2-256 %s\n" % (P, RSA.split()[1]), "rsa", True, True)
check("rsa key, e with a leading zero byte (the same key to OpenSSH)", "%s %s\n" % (P, rsa_nonminimal_e()), "rsa", True, True)
check("rsa non-minimal line first, then a line OpenSSH skips",
      '%s namespaces="file" %s\nzz %s\n' % (P, rsa_nonminimal_e(), RSA), "rsa", False, False)

# --- issue 14 item 5: an unusable line is skipped, the others still count -----
for label, bad in [("sk-ssh-ed25519", "dev@example.com " + SK_ED), ("sk-ecdsa", "dev@example.com " + SK_EC),
                   ("ssh-dss", "dev@example.com " + LINE["dsa"]), ("rsa-1024", "dev@example.com " + LINE["rsa1024"]),
                   ("certificate", "dev@example.com " + " ".join(CERT)),
                   ("cert-authority", "dev@example.com cert-authority " + LINE["ca"]),
                   ("garbage", "this is not a key"), ("unterminated quote", '"dev@example.com ' + ED)]:
    check("mixed: %s line, then a good one" % label, "%s\n%s %s\n" % (bad, P, ED), plumb=True, git=True,
          warn="%s:1: line skipped" % SIGNERS)
    check("only a %s line" % label, "%s\n" % bad, plumb=False, git=False)
check("rsa-1024 signer key line only (plumb: too weak)", "%s %s\n" % (P, LINE["rsa1024"]), plumb=False, git=False)

# --- issue 14 item 4: armor git refuses (or plumb refuses: stricter) -----------
with open(SIGNERS, "w") as f:
    f.write("%s %s\n" % (P, ED))


def forge(label, mutate, git_expect):
    ncases[0] += 1
    r = REPOS["ed"]
    head, _, body = r["raw"].partition(b"\n\n")
    raw = mutate(head) + b"\n\n" + body
    cid = must(["git", "-C", r["path"], "hash-object", "--literally", "-t", "commit", "-w", "--stdin"], inp=raw).decode().strip()
    must(["git", "-C", r["path"], "update-ref", "refs/heads/main", cid])
    p_ok, _, err = plumb_verdict("ed")
    g_ok = git_verdict("ed")
    if p_ok and not g_ok:
        unsafe.append("armor %s: plumb accepts, git rejects" % label)
    if p_ok:
        failures.append("armor %s: plumb accepts a re-encoded signature (new commit id, same payload)" % label)
    if g_ok != git_expect:
        failures.append("armor %s: git %s, expected %s" % (label, g_ok, git_expect))
    if g_ok and not p_ok:
        stricter.append(("armor " + label, "a variant git tolerates gets a new commit id for a signed payload"))


def sig_lines(head, fn):
    out, lines = [], head.split(b"\n")
    for i, l in enumerate(lines):
        out.append(fn(i, l, lines))
    return b"\n".join(x for x in out if x is not None)


forge("empty first line after gpgsig",
      lambda h: h.replace(b"gpgsig -----BEGIN", b"gpgsig \n -----BEGIN"), False)
forge("extra leading space on the BEGIN line",
      lambda h: h.replace(b"gpgsig -----BEGIN", b"gpgsig  -----BEGIN"), False)
forge("extra leading space on a base64 line",
      lambda h: sig_lines(h, lambda i, l, ls: b"  " + l[1:] if i > 0 and ls[i - 1].startswith(b"gpgsig ") else l), True)
forge("= padding stripped",
      lambda h: sig_lines(h, lambda i, l, ls: l.rstrip(b"=") if l.startswith(b" ") and not l.startswith(b" -----") and
                          i + 1 < len(ls) and ls[i + 1].startswith(b" -----END") else l), False)
forge("CR at the end of a base64 line",
      lambda h: sig_lines(h, lambda i, l, ls: l + b"\r" if i > 0 and ls[i - 1].startswith(b"gpgsig ") else l), True)
forge("blank continuation line inside the base64",
      lambda h: sig_lines(h, lambda i, l, ls: l + b"\n " if i > 0 and ls[i - 1].startswith(b"gpgsig ") else l), True)
forge("text after the END line",
      lambda h: h.replace(b"-----END SSH SIGNATURE-----", b"-----END SSH SIGNATURE-----\n trailing"), True)
must(["git", "-C", REPOS["ed"]["path"], "update-ref", "refs/heads/main", REPOS["ed"]["head"]])
check("the unforged commit still verifies", "%s %s\n" % (P, ED), plumb=True, git=True)
nfixed = ncases[0]

# --- random byte mutations of allowed_signers lines ------------------------------
rng = random.Random(args.seed)
bases = {
    "ed": ["%s %s" % (P, ED),
           '%s namespaces="git" %s' % (P, ED),
           '%s,dev@example.com valid-after="20000101",valid-before="20991231" %s' % (P, ED),
           '"ci x" namespaces="git,file",valid-before="209912312359Z" %s' % ED,
           '!mallory,%s cert-authority %s' % (P, ED),
           '*,!mallory namespaces="*,!file" %s' % ED],
    # keys whose base64 has '=' padding (ecdsa) and bignums (rsa): mutations reach the key reader
    "ec": ['%s %s' % (P, EC), '%s namespaces="git" %s' % (P, EC)],
    "rsa": ['%s %s' % (P, RSA), '%s valid-after="20000101" rsa-sha2-512 %s' % (P, RSA.split()[1])],
}
alphabet = list(b'!*?,"=\\ \t\r\x0b\x00#aAzZ09+/-@.') + [rng.randrange(256) for _ in range(8)]
for i in range(args.mutations):
    signer = rng.choice(["ed", "ed", "ec", "rsa"])
    line = bytearray(rng.choice(bases[signer]).encode())
    for _ in range(rng.randint(1, 3)):
        op, pos = rng.randrange(3), rng.randrange(len(line) + 1)
        c = rng.choice(alphabet) if rng.random() < 0.8 else rng.randrange(256)
        if op == 0 and pos < len(line):
            line[pos] = c
        elif op == 1:
            line.insert(pos, c)
        elif pos < len(line):
            del line[pos]
    content = bytes(line) + b"\n"
    if rng.random() < 0.5:   # a good line for another principal after it: git's first-line rule
        content += ("zz@example.com %s\n" % LINE[signer]).encode()
    check("mutation %d (%s) %r" % (i, signer, bytes(line)[:80]), content, signer)

print("signers differential: %d fixed cases, %d mutations (seed %d); %d unsafe, %d expectation failures, %d where plumb is stricter"
      % (nfixed, args.mutations, args.seed, len(unsafe), len(failures), len(stricter)))
for name, why in stricter:
    print("  stricter: %s%s" % (name, " (%s)" % why if why else ""))
for u in unsafe:
    print("UNSAFE: " + u)
for f in failures:
    print("FAIL: " + f)
sys.exit(1 if unsafe or failures else 0)
