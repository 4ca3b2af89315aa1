#!/usr/bin/env python3
"""Validates summary.json and metrics.json of results directories against their versioned JSON
schemas (controller/schemas/*.v1.schema.json, draft 7, every object closed to undocumented keys).
Usage: validate_results.py SCHEMA_DIR RESULTS_DIR..."""
import json
import sys

import jsonschema


def main():
    schemas, dirs = sys.argv[1], sys.argv[2:]
    bad = 0
    for name in ("summary", "metrics"):
        schema = json.load(open("%s/%s.v1.schema.json" % (schemas, name)))
        jsonschema.Draft7Validator.check_schema(schema)
        validator = jsonschema.Draft7Validator(schema)
        for d in dirs:
            d = d.rstrip("/") + "/"
            document = json.load(open(d + name + ".json"))
            errors = list(validator.iter_errors(document))
            for e in errors[:10]:
                print("FAIL: %s%s.json at %s: %s" % (d, name, "/".join(map(str, e.path)), e.message[:200]))
            bad += len(errors)
            print("%s%s.json: %s" % (d.split("/")[-2] + "/", name,
                                     "valid" if not errors else "%d errors" % len(errors)))
    sys.exit(1 if bad else 0)


main()
