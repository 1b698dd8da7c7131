"""`imagelint merge`: the reports of a sharded fleet scan as one, each finding once.

JSON reports (the versioned contract) merge by finding fingerprint: rule, place, message and the
image digest, so an image scanned by two shards (or twice) is counted once. SARIF reports merge
into one run per tool, with the union of the rules that fired and the results deduplicated the
same way. All inputs must be of one format; a file that is neither is a one-line error.
"""
from __future__ import annotations

import json
from typing import Any

from ..findings import ImagelintError

MAX_REPORT_BYTES = 512 * 1024 * 1024


def _load(path: str) -> dict:
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_REPORT_BYTES + 1)
    except OSError as exc:
        raise ImagelintError(f"{path}: cannot read ({exc.strerror})") from None
    if len(data) > MAX_REPORT_BYTES:
        raise ImagelintError(f"{path}: larger than {MAX_REPORT_BYTES // (1024 * 1024)} MB")
    try:
        document = json.loads(data)
    except (ValueError, RecursionError):
        raise ImagelintError(f"{path}: not JSON (merge takes imagelint's json or sarif reports)") from None
    if not isinstance(document, dict):
        raise ImagelintError(f"{path}: not an imagelint report")
    return document


def kind_of(document: dict, path: str) -> str:
    if isinstance(document.get("runs"), list):
        return "sarif"
    if document.get("version") == 1 and isinstance(document.get("findings"), list):
        return "json"
    raise ImagelintError(f"{path}: neither an imagelint JSON report (version 1) nor SARIF")


def _finding_key(finding: dict) -> str:
    props = finding.get("properties") or {}
    return json.dumps([finding.get("rule"), finding.get("path"), finding.get("line"), finding.get("column"),
                       finding.get("message"), props.get("image_digest"), props.get("image_path")], sort_keys=True)


def merge_json(documents: list[dict]) -> dict:
    findings: dict[str, dict] = {}
    errors: dict[str, dict] = {}
    for document in documents:
        for finding in document.get("findings") or []:
            if isinstance(finding, dict):
                findings.setdefault(_finding_key(finding), finding)
        for error in document.get("errors") or []:
            if isinstance(error, dict):
                errors.setdefault(json.dumps(error, sort_keys=True), error)
    ordered = sorted(findings.values(), key=lambda f: (str(f.get("path")), f.get("line") or 0, str(f.get("rule"))))
    return {"version": 1, "tool": documents[0].get("tool"), "findings": ordered, "errors": list(errors.values())}


def _result_key(result: dict) -> str:
    props = result.get("properties") or {}
    return json.dumps([result.get("ruleId"), (result.get("message") or {}).get("text"), result.get("locations"),
                       props.get("image_digest"), result.get("partialFingerprints")], sort_keys=True)


def merge_sarif(documents: list[dict]) -> dict:
    runs: dict[str, dict[str, Any]] = {}  # tool name -> merged run
    for document in documents:
        for run in document.get("runs") or []:
            if not isinstance(run, dict):
                continue
            driver = ((run.get("tool") or {}).get("driver") or {})
            name = str(driver.get("name", ""))
            merged = runs.setdefault(name, {"run": {**run, "results": []}, "rules": {}, "results": {},
                                            "notes": {}})
            for rule in driver.get("rules") or []:
                if isinstance(rule, dict):
                    merged["rules"].setdefault(rule.get("id"), rule)
            for result in run.get("results") or []:
                if isinstance(result, dict):
                    merged["results"].setdefault(_result_key(result), result)
            for invocation in run.get("invocations") or []:
                for note in (invocation or {}).get("toolExecutionNotifications") or []:
                    merged["notes"].setdefault(json.dumps(note, sort_keys=True), note)
    out_runs = []
    for merged in runs.values():
        run = merged["run"]
        rules = sorted(merged["rules"].values(), key=lambda r: str(r.get("id")))
        index = {rule.get("id"): i for i, rule in enumerate(rules)}
        results = []
        for result in merged["results"].values():
            if "ruleIndex" in result and result.get("ruleId") in index:
                result = {**result, "ruleIndex": index[result["ruleId"]]}
            results.append(result)
        run["tool"] = {**run.get("tool", {}), "driver": {**run["tool"]["driver"], "rules": rules}}
        run["results"] = results
        if run.get("invocations"):
            run["invocations"] = [{**run["invocations"][0],
                                   "toolExecutionNotifications": list(merged["notes"].values())}]
        out_runs.append(run)
    base = {k: v for k, v in documents[0].items() if k != "runs"}
    return {**base, "runs": out_runs}


def run_merge(paths: list[str]) -> tuple[str, str]:
    """(format, merged report text)."""
    if not paths:
        raise ImagelintError("give the shard reports to merge")
    documents = [_load(path) for path in paths]
    kinds = {kind_of(document, path) for document, path in zip(documents, paths)}
    if len(kinds) > 1:
        raise ImagelintError("the reports mix JSON and SARIF: merge one format at a time")
    kind = kinds.pop()
    merged = merge_json(documents) if kind == "json" else merge_sarif(documents)
    return kind, json.dumps(merged, indent=2, ensure_ascii=True) + "\n"
