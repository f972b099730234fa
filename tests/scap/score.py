#!/usr/bin/env python3
"""score.py RESULTS_DIR REASONS PROFILE...: the figures of make scap.

Reads RESULTS_DIR/PROFILE-before.xml and -after.xml (XCCDF results written
by oscap), prints `PROFILE pass_before pass_after fail_after`, then every
rule still failing after plumb apply (fail or error) with the profiles it
fails in and its reason class from REASONS (lines `rule<TAB>class<TAB>why`;
classes: human, not-agent, not-yet, false-positive). A failing rule with no
line in REASONS is `not-yet` with "unexplained" and makes the exit status 1,
so a new failure cannot pass unnoticed."""
import sys
import xml.etree.ElementTree as ET

X = "{http://checklists.nist.gov/xccdf/1.2}"
PREFIX = "xccdf_org.ssgproject.content_rule_"
CLASSES = {
    "human": "needs a human",
    "not-agent": "not an agent's job",
    "not-yet": "not yet done",
    "false-positive": "scanner false positive",
}


def results(path):
    out = {}
    root = ET.parse(path).getroot()
    for tr in root.iter(X + "TestResult"):
        for rr in tr.iter(X + "rule-result"):
            out[rr.get("idref").replace(PREFIX, "")] = rr.find(X + "result").text
    return out


def main():
    rdir, reasons_path, profiles = sys.argv[1], sys.argv[2], sys.argv[3:]
    reasons = {}
    for line in open(reasons_path):
        if not line.strip() or line.startswith("#"):
            continue
        rule, cls, why = line.rstrip("\n").split("\t", 2)
        if cls not in CLASSES:
            sys.exit(f"{reasons_path}: {rule}: unknown class {cls}")
        reasons[rule] = (cls, why)
    failing = {}
    print(f"{'PROFILE':28} pass_before pass_after fail_after")
    for p in profiles:
        b, a = results(f"{rdir}/{p}-before.xml"), results(f"{rdir}/{p}-after.xml")
        pb = sum(1 for v in b.values() if v == "pass")
        pa = sum(1 for v in a.values() if v == "pass")
        fa = sorted(r for r, v in a.items() if v in ("fail", "error"))
        print(f"{p:28} {pb:11} {pa:10} {len(fa):10}")
        for r in fa:
            failing.setdefault(r, []).append(p.replace("anssi_bp28_", ""))
    unexplained = 0
    print(f"\nrules still failing after plumb apply ({len(failing)}):")
    for r in sorted(failing):
        cls, why = reasons.get(r, ("not-yet", "unexplained"))
        unexplained += r not in reasons
        print(f"  {r:58} {CLASSES[cls]:22} {why} [{','.join(failing[r])}]")
    if unexplained:
        print(f"\n{unexplained} failing rule(s) have no reason in {reasons_path}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
