#!/usr/bin/python3
"""validate_report.py - checks JSON reports against docs/report.schema.json
(Debian's python3-jsonschema). Usage: validate_report.py SCHEMA FILE...
Exit 0 when every file is valid; prints the first error per file."""
import json
import sys

import jsonschema

schema = json.load(open(sys.argv[1]))
validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
bad = 0
for path in sys.argv[2:]:
    errors = sorted(validator.iter_errors(json.load(open(path))), key=lambda e: list(e.path))
    if errors:
        bad += 1
        e = errors[0]
        print("%s: %s at /%s" % (path, e.message, "/".join(map(str, e.path))))
sys.exit(1 if bad else 0)
