"""Renders what users deploy and validates every object against Kubernetes' own schemas.

- charts/reel: linted (strict) and rendered offline with helm-python-sdk, with the default values plus a database
  URL, and with a variant (existing Secret, one watched namespace, process runtime, no persistence, two pools,
  Gemini budgets); every rendered object is validated.
- manifests/base and manifests/dev: rendered with `kubectl kustomize`; every object is validated.
- the operator Deployments run as non-root with a read-only root filesystem, and their arguments are ones
  `reel operator` accepts (checked with `reel operator --help`).

Exit status 1 on the first kind of failure, with every problem listed.
"""
import argparse
import base64
import subprocess
import sys

import helm_python as helm
import kubernetes_validate
import yaml


def documents(text):
    return [doc for doc in yaml.safe_load_all(text) if doc]


def validate(objects, versions, label):
    problems = []
    for obj in objects:
        name = f"{label}: {obj.get('kind')} {obj.get('metadata', {}).get('name')}"
        for version in versions:
            try:
                kubernetes_validate.validate(obj, version, strict=True)
            except kubernetes_validate.ValidationError as error:
                problems.append(f"{name} (Kubernetes {version}): {error.message} at {list(error.path)}")
            except Exception as error:  # unknown kinds (CRDs' custom resources) are checked elsewhere
                if obj.get("apiVersion", "").startswith("reel.dev/"):
                    continue
                problems.append(f"{name} (Kubernetes {version}): {error}")
    return problems


def check_operator(objects, reel_flags, label):
    problems = []
    deployments = [o for o in objects if o.get("kind") == "Deployment" and "operator" in o["metadata"]["name"]]
    if len(deployments) != 1:
        return [f"{label}: expected one operator Deployment, found {len(deployments)}"]
    pod = deployments[0]["spec"]["template"]["spec"]
    container = pod["containers"][0]
    security = container.get("securityContext", {})
    if not pod.get("securityContext", {}).get("runAsNonRoot"):
        problems.append(f"{label}: the operator pod must run as non-root")
    if not security.get("readOnlyRootFilesystem"):
        problems.append(f"{label}: the operator container needs a read-only root filesystem")
    if container.get("args", [None])[0] != "operator":
        problems.append(f"{label}: the container must run `reel operator`")
    for arg in container.get("args", [])[1:]:
        flag = arg.split("=", 1)[0]
        if flag not in reel_flags:
            problems.append(f"{label}: `reel operator` has no option {flag}")
    probes = {container.get("livenessProbe", {}).get("httpGet", {}).get("path"),
              container.get("readinessProbe", {}).get("httpGet", {}).get("path")}
    if probes != {"/healthz", "/readyz"}:
        problems.append(f"{label}: probes must be /healthz and /readyz, not {probes}")
    return problems


def check_no_shared_volume(objects, label):
    """S3 setups: no ReadWriteMany claim, no claim on the operator, no --worker-data-claim, S3 keys offered."""
    problems = []
    for o in objects:
        if o.get("kind") == "PersistentVolumeClaim" and "ReadWriteMany" in o["spec"].get("accessModes", []):
            problems.append(f"{label}: S3 storage needs no shared ReadWriteMany claim ({o['metadata']['name']})")
    operator = next(o for o in objects if o.get("kind") == "Deployment" and "operator" in o["metadata"]["name"])
    pod = operator["spec"]["template"]["spec"]
    container = pod["containers"][0]
    if any(v.get("persistentVolumeClaim") for v in pod.get("volumes", [])):
        problems.append(f"{label}: the operator mounts a claim")
    if any(a.startswith("--worker-data-claim") for a in container.get("args", [])):
        problems.append(f"{label}: workers are given a data claim")
    names = {e["name"]: e for e in container.get("env", [])}
    for key in ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"]:
        ref = names.get(key, {}).get("valueFrom", {}).get("secretKeyRef", {})
        if not ref.get("optional"):
            problems.append(f"{label}: the operator must read {key} from the Secret (optional)")
    return problems


def check_api(objects, label):
    """api.enabled: the operator serves the API with a mounted signing key, behind a Service, the key in a Secret."""
    problems = []
    operator = next(o for o in objects if o.get("kind") == "Deployment" and "operator" in o["metadata"]["name"])
    pod = operator["spec"]["template"]["spec"]
    container = pod["containers"][0]
    args = container.get("args", [])
    for wanted in [
        "--api-addr=:8082", "--signing-key-file=/etc/reel/api/signingKey", "--api-allow-root=/data/media",
        "--max-upload-bytes=68719476736", "--upload-quota-bytes=10737418240", "--upload-expiry-hours=24",
    ]:
        if wanted not in args:
            problems.append(f"{label}: the operator is not run with {wanted}")
    if not any(m["mountPath"] == "/etc/reel/api" and m.get("readOnly") for m in container.get("volumeMounts", [])):
        problems.append(f"{label}: the signing key is not mounted read-only at /etc/reel/api")
    secret_names = {v.get("secret", {}).get("secretName") for v in pod.get("volumes", [])}
    secrets = {o["metadata"]["name"]: o for o in objects if o.get("kind") == "Secret"}
    key_secret = next((name for name in secret_names if name in secrets), None)
    if key_secret is None or len(base64.b64decode(secrets[key_secret]["data"]["signingKey"])) < 32:
        problems.append(f"{label}: no Secret with a signing key of 32 bytes or more")
    services = [o for o in objects if o.get("kind") == "Service" and o["metadata"]["name"].endswith("-api")]
    if not services or services[0]["spec"]["ports"][0]["targetPort"] != "api":
        problems.append(f"{label}: no Service for the API port")
    return problems


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--reel", required=True)
    parser.add_argument("--kubectl", required=True)
    parser.add_argument("--versions", default="1.25.0,1.37.0")
    args = parser.parse_args()
    versions = args.versions.split(",")
    help_text = subprocess.run([args.reel, "operator", "--help"], capture_output=True, text=True, check=True).stdout
    reel_flags = {word.rstrip(",") for word in help_text.split() if word.startswith("--")}

    problems = []
    report = helm.lint("charts/reel", {"database": {"url": "postgres://reel@db/reel"}}, strict=True)
    for message in report.get("messages", []):
        if message.get("severity", 0) >= 2:
            problems.append(f"helm lint: {message.get('path')}: {message.get('error')}")
    problems += [f"helm lint: {error}" for error in report.get("errors", [])]

    chart = helm.Chart.load("charts/reel")
    variants = {
        "chart (defaults)": {"database": {"url": "postgres://reel:secret@db:5432/reel"}},
        "chart (variant)": {
            "database": {"existingSecret": "reel-db"}, "watchNamespace": "media", "workerRuntime": "process",
            "persistence": {"enabled": False}, "replicaCount": 1, "leaderElection": {"enabled": False},
            "sources": {"allowHosts": ["10.0.0.0/8", "media.internal"], "maxPixels": 8294400,
                        "maxDurationSeconds": 3600, "stallSeconds": 15},
            "gemini": {"requestsPerMinute": 60, "tokensPerMinute": 100000},
            "pools": [
                {"name": "analyze", "spec": {"stages": ["analyze"], "maxReplicas": 4}},
                {"name": "render", "spec": {"stages": ["render"], "maxReplicas": 1, "template": {"image": "reel:gpu"}}},
            ],
        },
        "chart (api)": {
            "database": {"url": "postgres://reel:secret@db:5432/reel"},
            "api": {
                "enabled": True, "allowRoots": ["/data/media"], "publicURL": "https://reel.example.com",
                "uploads": {"quotaBytes": 10737418240},
            },
        },
        "chart (s3)": {
            "database": {"url": "postgres://reel:secret@db:5432/reel"}, "persistence": {"enabled": False},
            "allowRoots": [],
            "storage": {"uri": "s3://media/reel?region=eu-west-1",
                        "s3": {"accessKeyID": "AKIDEXAMPLE", "secretAccessKey": "secret-example"}},
            "worker": {"serviceAccount": {"create": True, "annotations": {"eks.amazonaws.com/role-arn": "arn:x"}}},
        },
    }
    rendered_counts = {}
    for label, values in variants.items():
        rendered = chart.render(values, name="reel", namespace="reel-system", is_install=True)
        objects = []
        for path, text in sorted(rendered.items()):
            if path.endswith(".txt"):
                continue
            objects += documents(text)
        crds = [doc for entry in chart.crds for doc in documents(entry["data"])]
        problems += validate(objects + crds, versions, label)
        problems += check_operator(objects, reel_flags, label)
        rendered_counts[label] = len(objects) + len(crds)
        if "variant" in label:
            pools = [o for o in objects if o.get("kind") == "WorkerPool"]
            if len(pools) != 2:
                problems.append(f"{label}: expected 2 WorkerPools, rendered {len(pools)}")
            if any(o.get("kind") == "Secret" for o in objects):
                problems.append(f"{label}: an existing Secret was named; the chart must not create one")
            operator = next(o for o in objects if o.get("kind") == "Deployment" and "operator" in o["metadata"]["name"])
            operator_args = operator["spec"]["template"]["spec"]["containers"][0]["args"]
            wanted = ["--allow-source-host=10.0.0.0/8", "--allow-source-host=media.internal", "--max-pixels=8294400",
                      "--max-duration-seconds=3600", "--source-stall-seconds=15"]
            if any(arg not in operator_args for arg in wanted):
                problems.append(f"{label}: sources.* must become the operator's source flags: {operator_args}")
        if "api" in label:
            problems += check_api(objects, label)
        elif any(o.get("kind") == "Service" and o["metadata"]["name"].endswith("-api") for o in objects):
            problems.append(f"{label}: the API is off by default")
        if "s3" in label:
            problems += check_no_shared_volume(objects, label)
            secret = next((o for o in objects if o.get("kind") == "Secret"), {})
            if set(secret.get("stringData", {})) != {"databaseURL", "storage", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}:
                problems.append(f"{label}: the Secret must hold the database URL, storage and the S3 keys")

    for overlay in ["manifests/base", "manifests/s3", "manifests/dev"]:
        result = subprocess.run([args.kubectl, "kustomize", overlay], capture_output=True, text=True)
        if result.returncode != 0:
            problems.append(f"kubectl kustomize {overlay}: {result.stderr.strip()}")
            continue
        objects = documents(result.stdout)
        problems += validate(objects, versions, overlay)
        problems += check_operator(objects, reel_flags, overlay)
        if overlay != "manifests/base":
            problems += check_no_shared_volume(objects, overlay)
        rendered_counts[overlay] = len(objects)

    if problems:
        print("\n".join(problems), file=sys.stderr)
        return 1
    print("rendered and valid: " + ", ".join(f"{label} {count} objects" for label, count in rendered_counts.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
