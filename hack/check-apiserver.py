#!/usr/bin/env python3
"""The generated CRDs on a real Kubernetes API server (1.20, from hack/kube-up.sh).

They must install and become Established; every example, sample and valid fixture must be accepted
(server-side dry run); every invalid fixture must be rejected at the field it names — by the server's schema
validation, by kubectl's validation against the OpenAPI the server publishes (unknown fields: a 1.20 server
prunes them instead of refusing them), or, for status fields, by the status subresource.
"""
import argparse
import json
import pathlib
import re
import ssl
import subprocess
import sys
import urllib.error
import urllib.request

from reelfixtures import ROOT, invalid_fixtures, load_all, report, valid_manifests


class Cluster:
    def __init__(self, kubectl, state):
        self.kubectl = kubectl
        self.kubeconfig = str(state / "kubeconfig")
        env = dict(line.split("=", 1) for line in (state / "env").read_text().split())
        self.url = env["APISERVER_URL"]
        self.token = env["APISERVER_TOKEN"]
        self.ssl = ssl.create_default_context(cafile=str(state / "certs" / "apiserver.crt"))

    def run(self, *args, stdin=None):
        result = subprocess.run(
            [self.kubectl, "--kubeconfig", self.kubeconfig, *args], input=stdin, capture_output=True, text=True
        )
        return result.returncode, result.stdout + result.stderr

    def patch_status(self, kind_plural, namespace, name, status):
        url = f"{self.url}/apis/reel.dev/v1alpha1/namespaces/{namespace}/{kind_plural}/{name}/status?dryRun=All"
        body = json.dumps({"status": status}).encode()
        request = urllib.request.Request(url, data=body, method="PATCH")
        request.add_header("Authorization", f"Bearer {self.token}")
        request.add_header("Content-Type", "application/merge-patch+json")
        try:
            with urllib.request.urlopen(request, context=self.ssl) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()


def server_paths(expected):
    """How the server and kubectl may spell a Reel field path (no list indices, map keys as fields)."""
    plain = re.sub(r"\[(\d+)\]", "", expected)
    plain = re.sub(r"\[([^\]]+)\]", r".\1", plain)
    parent, _, last = plain.rpartition(".")
    return [plain, f'ValidationError(VideoJob.{parent}): unknown field "{last}"',
            f'ValidationError(WorkerPool.{parent}): unknown field "{last}"']


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--kubectl", required=True)
    parser.add_argument("--state", required=True, help="the directory hack/kube-up.sh started the server in")
    args = parser.parse_args()
    cluster = Cluster(args.kubectl, pathlib.Path(args.state))
    failures = []
    checked = 0

    code, out = cluster.run("apply", "-f", str(ROOT / "crds"))
    if code != 0:
        print(f"FAIL the CRDs do not install:\n{out}", file=sys.stderr)
        print("0 passed, 1 failed")
        return 1
    code, out = cluster.run("wait", "--for", "condition=established", "--timeout=60s",
                            "crd/videojobs.reel.dev", "crd/workerpools.reel.dev")
    if code != 0:
        failures.append(f"the CRDs did not become Established:\n{out}")
    for crd in ("videojobs.reel.dev", "workerpools.reel.dev"):
        code, out = cluster.run("get", "crd", crd, "-o", "json")
        conditions = {c["type"]: c["status"] for c in json.loads(out)["status"]["conditions"]} if code == 0 else {}
        if conditions.get("NonStructuralSchema") == "True":
            failures.append(f"{crd}: the server says the schema is not structural")
        checked += 1

    valid = valid_manifests()
    namespaces = {d.get("metadata", {}).get("namespace") for p in valid for d in load_all(p)} - {None}
    for namespace in sorted(namespaces):
        cluster.run("create", "namespace", namespace)
    for path in valid:
        checked += 1
        code, out = cluster.run("create", "--dry-run=server", "--validate=true", "-f", str(path))
        if code != 0:
            failures.append(f"{path.relative_to(ROOT)}: the API server rejects a valid manifest:\n{out}")

    for path, expected in invalid_fixtures():
        checked += 1
        rel = path.relative_to(ROOT)
        doc = load_all(path)[0]
        if expected.startswith("status."):
            plural = "videojobs" if doc["kind"] == "VideoJob" else "workerpools"
            base = {k: v for k, v in doc.items() if k != "status"}
            code, out = cluster.run("create", "-f", "-", stdin=json.dumps(base))
            if code != 0:
                failures.append(f"{rel}: could not create the object to patch its status:\n{out}")
                continue
            status, out = cluster.patch_status(plural, "default", doc["metadata"]["name"], doc["status"])
            cluster.run("delete", plural, doc["metadata"]["name"], "--wait=false")
            rejected = status == 422
        else:
            # The server's own validation first; a 1.20 server prunes unknown fields rather than refusing them, so
            # those must be refused by kubectl's validation against the OpenAPI the server publishes.
            code, out = cluster.run("create", "--dry-run=server", "--validate=false", "-f", str(path))
            if code == 0:
                code, out = cluster.run("create", "--dry-run=server", "--validate=true", "-f", str(path))
                out = out if "unknown field" in out else f"(accepted by the server)\n{out}"
            rejected = code != 0
        if not rejected or not any(p in out for p in server_paths(expected)):
            failures.append(f"{rel}: the API server does not reject {expected}:\n{out}")

    return report(checked, failures)


if __name__ == "__main__":
    sys.exit(main())
