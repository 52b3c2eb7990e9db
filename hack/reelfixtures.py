"""The manifests the schema checks share: what must be valid, what must be rejected and where."""
import pathlib
import re

from ruamel.yaml import YAML

ROOT = pathlib.Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "Tests" / "Fixtures" / "schema-agreement"


def load_all(path):
    """Every non-empty document of a YAML file, read as YAML 1.2 (as Reel reads it)."""
    return [doc for doc in YAML(typ="safe", pure=True).load_all(path.read_text()) if doc is not None]


def valid_manifests():
    """Examples, samples and valid fixtures: everything that must be accepted."""
    return sorted(
        list((ROOT / "examples").rglob("*.yaml"))
        + list((ROOT / "manifests" / "samples").rglob("*.yaml"))
        + list((FIXTURES / "valid").glob("*.yaml"))
    )


def invalid_fixtures():
    """(path, field path it must be rejected at) for every invalid fixture; the path is None when the first
    line does not say '# rejects: FIELD.PATH'."""
    out = []
    for path in sorted((FIXTURES / "invalid").glob("*.yaml")):
        match = re.match(r"#\s*rejects:\s*(\S+)", path.read_text().splitlines()[0])
        out.append((path, match.group(1) if match else None))
    return out


def report(checked, failures):
    """Prints every failure and the closing 'N passed, N failed' line; returns the exit status."""
    import sys

    for failure in failures:
        print(f"FAIL {failure}", file=sys.stderr)
    print(f"{checked - len(failures)} passed, {len(failures)} failed")
    return 1 if failures else 0
