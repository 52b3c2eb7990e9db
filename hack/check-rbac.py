#!/usr/bin/env python3
"""Reel's RBAC on a real Kubernetes API server (1.20, from hack/kube-up.sh, authorization mode RBAC).

The ServiceAccounts, roles and bindings of manifests/base (kustomize) and of the Helm chart (rendered with
helm-python-sdk) are applied; then `kubectl auth can-i --list --as system:serviceaccount:…` must show exactly the
permissions below — what the operator's code calls (ReelKube and ReelOperator: informers, status and finalizer
writes, deletions of expired VideoJobs, the REST API's writes through the API server, worker Deployments and their
scale, Events, Leases, the Gemini key Secrets) and, for workers, only `get` on Secrets — and a list of requests
neither may make must be refused (`kubectl auth can-i` answers "no").

Exit status 1 with every difference listed.
"""
import argparse
import pathlib
import subprocess
import sys

import helm_python as helm
import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
ALL_WRITES = {"get", "list", "watch", "create", "update", "patch", "delete"}

# resource (with its group, as `can-i --list` prints it) → verbs, everywhere.
OPERATOR = {
    "videojobs.reel.dev": ALL_WRITES,  # informer, finalizers by patch, expiry deletes, the REST API's writes
    "workerpools.reel.dev": ALL_WRITES - {"delete"},  # the REST API scales a pool, creating it when missing
    "videojobs.reel.dev/status": {"get", "patch", "update"},
    "workerpools.reel.dev/status": {"get", "patch", "update"},
    "videojobs.reel.dev/finalizers": {"update"},
    "workerpools.reel.dev/finalizers": {"update"},
    "deployments.apps": ALL_WRITES,  # worker pools; a removed pool's Deployment is deleted
    "deployments.apps/scale": {"get", "patch", "update"},
    "events.events.k8s.io": {"create", "patch"},
    "secrets": {"get"},  # a VideoJob's Gemini key, for workers run as the operator's children
}
# In the operator's own namespace only.
OPERATOR_OWN_NAMESPACE = {"leases.coordination.k8s.io": {"get", "create", "update"}}
WORKER = {"secrets": {"get"}}

# (verb, resource, namespace or None) that must be refused.
OPERATOR_REFUSED = [
    ("list", "secrets", "default"), ("watch", "secrets", None), ("create", "secrets", "default"),
    ("create", "pods", "default"), ("delete", "pods", "default"), ("get", "configmaps", "default"),
    ("get", "leases.coordination.k8s.io", "default"), ("list", "nodes", None), ("delete", "namespaces", None),
    ("create", "clusterrolebindings.rbac.authorization.k8s.io", None),
    ("create", "serviceaccounts/token", "default"), ("escalate", "clusterroles.rbac.authorization.k8s.io", None),
    ("create", "customresourcedefinitions.apiextensions.k8s.io", None),
]
WORKER_REFUSED = [
    ("list", "secrets", "default"), ("watch", "secrets", "default"), ("get", "videojobs.reel.dev", "default"),
    ("patch", "videojobs.reel.dev/status", "default"), ("get", "deployments.apps", "default"),
    ("get", "pods", "default"), ("create", "events.events.k8s.io", "default"),
    ("get", "leases.coordination.k8s.io", "reel-system"), ("get", "configmaps", "default"),
]
# What every authenticated identity may do (system:basic-user, system:discovery): not Reel's doing.
DEFAULTS = {"selfsubjectaccessreviews.authorization.k8s.io", "selfsubjectrulesreviews.authorization.k8s.io"}


class Cluster:
    def __init__(self, kubectl, state):
        self.kubectl = kubectl
        self.kubeconfig = str(state / "kubeconfig")

    def run(self, *args, stdin=None):
        result = subprocess.run(
            [self.kubectl, "--kubeconfig", self.kubeconfig, *args], input=stdin, capture_output=True, text=True
        )
        return result.returncode, result.stdout + result.stderr

    def permissions(self, user, namespace):
        """`can-i --list` as a mapping resource → verbs (non-resource URLs and the defaults left out)."""
        code, text = self.run("auth", "can-i", "--list", "--as", user, "-n", namespace)
        if code != 0:
            raise SystemExit(f"kubectl auth can-i --list --as {user}: {text}")
        granted = {}
        for line in text.splitlines()[1:]:
            parts = line.split()
            if not parts or not line.rstrip().endswith("]"):
                continue
            resource = parts[0]
            if resource in DEFAULTS or resource.startswith("/") or not line.split("[")[0].strip():
                continue
            if "[" in parts[1] and parts[1].startswith("["):
                urls_end = line.index("]") + 1
                rest = line[urls_end:]
            else:
                rest = line
            verbs = rest[rest.rindex("[") + 1: rest.rindex("]")].split()
            if verbs:
                granted.setdefault(resource, set()).update(verbs)
        return granted

    def can(self, user, verb, resource, namespace):
        scope = ["-n", namespace] if namespace else ["--all-namespaces"]
        result = subprocess.run(
            [self.kubectl, "--kubeconfig", self.kubeconfig, "auth", "can-i", verb, resource, "--as", user, *scope],
            capture_output=True, text=True)
        lines = result.stdout.strip().splitlines()
        return lines[-1] if lines else f"exit {result.returncode}: {result.stderr.strip()}"


def compare(label, granted, expected):
    problems = []
    for resource in sorted(set(granted) | set(expected)):
        have, want = granted.get(resource, set()), expected.get(resource, set())
        if have != want:
            missing, extra = sorted(want - have), sorted(have - want)
            problems.append(
                f"{label}: {resource}: " + ", ".join(
                    part for part in [f"missing {missing}" if missing else "", f"not needed {extra}" if extra else ""]
                    if part))
    return problems


def check(cluster, label, operator, worker, namespace):
    problems = []
    for name, user, expected, own, refused in [
        ("operator", operator, OPERATOR, OPERATOR_OWN_NAMESPACE, OPERATOR_REFUSED),
        ("worker", worker, WORKER, {}, WORKER_REFUSED),
    ]:
        elsewhere = cluster.permissions(user, "default")
        problems += compare(f"{label} {name} (namespace default)", elsewhere, expected)
        at_home = cluster.permissions(user, namespace)
        problems += compare(f"{label} {name} (namespace {namespace})", at_home, {**expected, **own})
        before = len(problems)
        for verb, resource, where in refused:
            answer = cluster.can(user, verb, resource, where)
            if answer != "no":
                problems.append(f"{label} {name}: can-i {verb} {resource} in {where or 'all namespaces'}: {answer}")
        if len(problems) == before:
            count = sum(len(verbs) for verbs in at_home.values())
            print(f"{label}: {user}: exactly the {count} expected resource verbs; {len(refused)} requests refused")
    return problems


def rbac_objects(objects):
    kinds = {"Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"}
    return [o for o in objects if o and o.get("kind") in kinds]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--kubectl", required=True)
    parser.add_argument("--state", required=True, type=pathlib.Path)
    args = parser.parse_args()
    cluster = Cluster(args.kubectl, args.state)
    problems = []
    # The CRDs, so that can-i knows Reel's resources.
    code, text = cluster.run("apply", "-f", str(ROOT / "crds"))
    if code != 0:
        raise SystemExit(f"installing the CRDs: {text}")
    for crd in ["videojobs.reel.dev", "workerpools.reel.dev"]:
        cluster.run("wait", "--for=condition=Established", "--timeout=60s", f"crd/{crd}")

    rendered = subprocess.run([args.kubectl, "kustomize", str(ROOT / "manifests/base")], capture_output=True,
                              text=True, check=True).stdout
    base = rbac_objects(list(yaml.safe_load_all(rendered)))
    code, text = cluster.run("apply", "-f", "-", stdin=yaml.safe_dump_all(base))
    if code != 0:
        raise SystemExit(f"applying manifests/base's RBAC: {text}")
    problems += check(cluster, "manifests/base", "system:serviceaccount:reel-system:reel-operator",
                      "system:serviceaccount:reel-system:reel-worker", "reel-system")

    chart = helm.Chart.load(str(ROOT / "charts/reel"))
    values = {"database": {"url": "postgres://reel@db/reel"},
              "worker": {"serviceAccount": {"create": True}}}
    objects = []
    for path, text in sorted(chart.render(values, name="chart", namespace="reel-chart", is_install=True).items()):
        if not path.endswith(".txt"):
            objects += list(yaml.safe_load_all(text))
    chart_rbac = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "reel-chart"}}] + rbac_objects(objects)
    accounts = [o["metadata"]["name"] for o in chart_rbac if o["kind"] == "ServiceAccount"]
    code, text = cluster.run("apply", "-f", "-", stdin=yaml.safe_dump_all(chart_rbac))
    if code != 0:
        raise SystemExit(f"applying the chart's RBAC: {text}")
    operator = next((a for a in accounts if "worker" not in a), None)
    worker = next((a for a in accounts if "worker" in a), None)
    if not operator or not worker:
        problems.append(f"chart: expected an operator and a worker ServiceAccount, rendered {accounts}")
    else:
        problems += check(cluster, "charts/reel", f"system:serviceaccount:reel-chart:{operator}",
                          f"system:serviceaccount:reel-chart:{worker}", "reel-chart")

    if problems:
        print("\n".join(problems), file=sys.stderr)
        return 1
    print("RBAC: the operator can do exactly what it needs; workers can only get Secrets (manifests/base and chart)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
