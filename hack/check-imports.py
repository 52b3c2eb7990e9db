#!/usr/bin/env python3
"""The module graph as Package.swift declares it, enforced on the sources:

- a target imports only modules it declares (its own dependencies, or the products it names);
- only ReelStore (and tests) import ReelPostgres: the rest of Reel reaches the tables through ReelStore;
- ReelOperator and ReelPipeline do not import each other (their contracts live in ReelCore).

Reads `swift package dump-package` on standard input; prints each breach and exits 1 if there is any.
"""
import json
import os
import re
import sys

package = json.load(sys.stdin)
# Modules a product brings (swift-log's Logging, swift-metrics' Metrics and CoreMetrics, ...).
PRODUCT_MODULES = {"Metrics": {"Metrics", "CoreMetrics"}}
local = {target["name"] for target in package["targets"]}
problems = []
for target in package["targets"]:
    name, kind = target["name"], target["type"]
    if kind == "system":
        continue
    declared = set()
    for dependency in target["dependencies"]:
        for form in ("byName", "target", "product"):
            if form in dependency:
                module = dependency[form][0]
                declared |= PRODUCT_MODULES.get(module, {module})
    directory = os.path.join("Tests" if kind == "test" else "Sources", name)
    for root, _, files in os.walk(directory):
        for file in sorted(files):
            if not file.endswith(".swift"):
                continue
            path = os.path.join(root, file)
            with open(path, encoding="utf-8") as handle:
                for number, line in enumerate(handle, 1):
                    match = re.match(r"\s*(?:@testable\s+)?import\s+(\w+)", line)
                    if not match:
                        continue
                    module = match.group(1)
                    where = f"{path}:{number}"
                    if module in local and module not in declared:
                        problems.append(f"{where}: {name} imports {module} but Package.swift does not declare it")
                    if module == "ReelPostgres" and kind != "test" and name not in ("ReelStore", "ReelTestSupport"):
                        problems.append(f"{where}: only ReelStore speaks SQL; {name} imports ReelPostgres")
                    if {name, module} == {"ReelOperator", "ReelPipeline"}:
                        problems.append(f"{where}: ReelOperator and ReelPipeline must not import each other")
for problem in problems:
    print(problem)
if problems:
    sys.exit(1)
print(f"module graph: {len(package['targets'])} targets import only what Package.swift declares")
