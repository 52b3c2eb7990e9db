#!/usr/bin/env python3
"""Keeps the generated CRD schemas and `reel validate` in agreement.

Every example, sample and valid fixture must pass both the CRD's openAPIV3Schema (checked with `jsonschema`,
objects closed with additionalProperties: false as a strict API server would) and `reel validate`. Every
invalid fixture (Tests/Fixtures/schema-agreement/invalid, each naming in its first line the field it breaks)
must be rejected by both, at that field. YAML is read as 1.2 (ruamel.yaml), as Reel reads it.
"""
import argparse
import copy
import re
import subprocess
import sys

import jsonschema

from reelfixtures import FIXTURES, ROOT, invalid_fixtures, load_all, report, valid_manifests


def closed(schema):
    """The schema with every object that lists properties closed to others (strict field validation)."""
    schema = copy.deepcopy(schema)

    def walk(node):
        if not isinstance(node, dict):
            return
        if "properties" in node and not node.get("x-kubernetes-preserve-unknown-fields"):
            node.setdefault("additionalProperties", False)
        for key in ("properties",):
            for child in node.get(key, {}).values():
                walk(child)
        for key in ("items", "additionalProperties"):
            if isinstance(node.get(key), dict):
                walk(node[key])

    walk(schema)
    return schema


def validators():
    out = {}
    for crd_path in sorted((ROOT / "crds").glob("*.yaml")):
        crd = load_all(crd_path)[0]
        kind = crd["spec"]["names"]["kind"]
        schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
        out[kind] = jsonschema.Draft7Validator(closed(schema))
    return out


def normalize(path):
    return re.sub(r"\[([^\]]*)\]", r".\1", path).strip(".")


def schema_error_paths(validator, doc):
    """Every field path the schema rejects in doc, Kubernetes style but normalized (a.b.0.c)."""
    paths = set()
    for error in validator.iter_errors(doc):
        base = ".".join(str(p) for p in error.absolute_path)
        if error.validator == "required":
            for name in error.validator_value:
                if isinstance(error.instance, dict) and name not in error.instance:
                    paths.add(normalize(f"{base}.{name}"))
        elif error.validator == "additionalProperties":
            known = set(error.schema.get("properties", {}))
            for name in error.instance:
                if name not in known:
                    paths.add(normalize(f"{base}.{name}"))
        else:
            paths.add(normalize(base))
    return paths


def reel_validate(reel, path):
    result = subprocess.run([reel, "validate", "-f", str(path)], capture_output=True, text=True)
    return result.returncode, result.stdout


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reel", required=True, help="path to the built reel binary")
    args = parser.parse_args()
    kinds = validators()
    failures = []
    checked = 0

    for path in valid_manifests():
        rel = path.relative_to(ROOT)
        for doc in load_all(path):
            checked += 1
            errors = schema_error_paths(kinds[doc["kind"]], doc)
            if errors:
                failures.append(f"{rel}: the CRD schema rejects a valid manifest at {sorted(errors)}")
        code, out = reel_validate(args.reel, path)
        if code != 0:
            failures.append(f"{rel}: reel validate rejects a valid manifest:\n{out}")

    invalid = invalid_fixtures()
    for path, expected in invalid:
        rel = path.relative_to(ROOT)
        if expected is None:
            failures.append(f"{rel}: first line must be '# rejects: FIELD.PATH'")
            continue
        doc = load_all(path)[0]
        checked += 1
        errors = schema_error_paths(kinds[doc["kind"]], doc)
        if normalize(expected) not in errors:
            failures.append(f"{rel}: the CRD schema does not reject {expected} (it rejects {sorted(errors) or 'nothing'})")
        code, out = reel_validate(args.reel, path)
        if code != 1 or f": {expected}: " not in out:
            failures.append(f"{rel}: reel validate does not reject {expected} (exit {code}):\n{out}")

    if len(invalid) < 10:
        failures.append(f"only {len(invalid)} invalid fixtures found in {FIXTURES / 'invalid'}")
    return report(checked, failures)


if __name__ == "__main__":
    sys.exit(main())
