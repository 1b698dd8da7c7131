"""Fixes for Kubernetes manifests: YAML edits that keep comments and layout (ruamel.yaml round trip).

Only the documents a fix changes are written again (with the indentation the file uses); the rest of
the file stays byte for byte. Every fix here changes behaviour, so each is unsafe (Ruff's model):
- IL602: a subPath CA mount becomes a directory mount of its own, and the variables that named the
  file name it in that directory (a system bundle path gets SSL_CERT_FILE);
- IL605: the CA that issued the server's certificate is appended to the client's ConfigMap bundle;
- IL611: a cert-manager Certificate's `duration` of 48 h or less becomes 2160h (cert-manager's default)
  with `renewBefore: 720h`.
ruamel.yaml is imported here only, when `imagelint fix` runs on manifests.
"""
from __future__ import annotations

import io
import posixpath
import re
from dataclasses import dataclass

from ..findings import Applicability, Edit, Finding, Fix

FIX_TITLES = {
    "IL602": "mount the volume as a directory of its own and point the CA variables at the file in it",
    "IL605": "append the server's CA to the client's ConfigMap bundle",
    "IL611": "duration: 2160h with renewBefore: 720h (cert-manager's default lifetime)",
}
_SEPARATOR = re.compile(r"^---[ \t]*(?:#.*)?$|^---[ \t]", re.M)


def ca_to_add(chain, ca_pem: bytes | None) -> bytes | None:
    """The PEM a client must trust for `chain`: the Secret's ca.crt, or the self-signed top itself."""
    if ca_pem and b"-----BEGIN CERTIFICATE-----" in ca_pem:
        return ca_pem
    if chain and chain[-1].self_signed and chain[-1].cert is not None:
        from cryptography.hazmat.primitives.serialization import Encoding

        return chain[-1].cert.public_bytes(Encoding.PEM)
    return None


def fixable(finding: Finding) -> bool:
    if finding.rule == "IL611":
        return finding.properties.get("problem") in ("short-duration", "renew-before-no-margin")
    if finding.rule == "IL605":
        return bool(finding.properties.get("add_ca") and finding.properties.get("bundle_source"))
    return finding.rule == "IL602"


def mark_fixes(findings: list[Finding]) -> None:
    """Give fixable findings their (unsafe) Fix; the edits are computed when the fix runs."""
    for finding in findings:
        if finding.fix is None and fixable(finding):
            finding.fix = Fix(FIX_TITLES[finding.rule], Applicability.UNSAFE, [])


# --------------------------------------------------------------------------- documents

@dataclass
class _Segment:
    start: int
    end: int


def _segments(text: str) -> list[_Segment]:
    starts = [0] + [m.end() + 1 for m in _SEPARATOR.finditer(text)]
    ends = [m.start() for m in _SEPARATOR.finditer(text)] + [len(text)]
    return [_Segment(s, min(e, len(text))) for s, e in zip(starts, ends)]


def _yaml(segment: str):
    from ruamel.yaml import YAML
    from ruamel.yaml.util import load_yaml_guess_indent

    _data, indent, block_seq_indent = load_yaml_guess_indent(segment)
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 4096
    indent = indent or 2
    yaml.indent(mapping=indent, sequence=indent + (block_seq_indent or 0), offset=block_seq_indent or 0)
    return yaml


def _matches(doc, ref: str) -> bool:
    """`ref` is "ns/kind/name" (or "kind/name" for cluster-scoped)."""
    if not hasattr(doc, "get") or not isinstance(doc.get("metadata"), dict):
        return False
    parts = ref.split("/")
    ns, kind, name = (parts if len(parts) == 3 else ["", *parts])
    meta = doc["metadata"]
    return (str(doc.get("kind", "")).lower() == kind and str(meta.get("name", "")) == name
            and (not ns or str(meta.get("namespace") or "default") == ns))


def _edit_document(text: str, ref: str, change) -> str | None:
    """`text` with the document `ref` changed in place by `change(doc) -> bool`; None if not found/changed."""
    for seg in _segments(text):
        body = text[seg.start:seg.end]
        if not body.strip():
            continue
        yaml = _yaml(body)
        doc = yaml.load(body)
        if not _matches(doc, ref):
            continue
        if not change(doc):
            return None
        out = io.StringIO()
        yaml.dump(doc, out)
        new = out.getvalue()
        if body.endswith("\n") and not new.endswith("\n"):
            new += "\n"
        return text[:seg.start] + new + text[seg.end:]
    return None


# --------------------------------------------------------------------------- the fixes

def _pod_spec(doc):
    kind = str(doc.get("kind", ""))
    spec = doc.get("spec") or {}
    if kind == "Pod":
        return spec
    if kind == "CronJob":
        spec = (spec.get("jobTemplate") or {}).get("spec") or {}
    return (spec.get("template") or {}).get("spec") or {}


def _subpath_change(finding: Finding, system_paths: tuple[str, ...]):
    props = finding.properties

    def change(doc) -> bool:
        spec = _pod_spec(doc)
        for section in ("initContainers", "containers"):
            for container in spec.get(section) or []:
                if container.get("name") != props.get("container"):
                    continue
                for mount in container.get("volumeMounts") or []:
                    if mount.get("mountPath") != props.get("mount_path") or mount.get("subPath") != props.get("sub_path"):
                        continue
                    old_path = str(mount["mountPath"])
                    directory = posixpath.join(posixpath.dirname(old_path), str(mount.get("name")))
                    new_file = posixpath.join(directory, str(mount["subPath"]))
                    env = container.get("env")
                    named = [e for e in env or [] if str(e.get("value", "")) == old_path]
                    if not named and old_path not in system_paths:
                        return False  # nothing tells the program where the file went
                    mount["mountPath"] = directory
                    del mount["subPath"]
                    for entry in named:
                        entry["value"] = new_file
                    if not named:
                        from ruamel.yaml.comments import CommentedMap, CommentedSeq

                        if env is None:
                            container["env"] = env = CommentedSeq()
                        entry = CommentedMap()
                        entry["name"] = "SSL_CERT_FILE"
                        entry["value"] = new_file
                        env.append(entry)
                    return True
        return False

    return change


def _append_ca_change(finding: Finding):
    key = finding.properties["bundle_key"]
    pem = finding.properties["add_ca"]

    def change(doc) -> bool:
        from ruamel.yaml.scalarstring import LiteralScalarString

        data = doc.get("data")
        if data is None or key not in data:
            return False
        current = str(data[key])
        if pem.strip() in current:
            return False
        data[key] = LiteralScalarString(current.rstrip("\n") + "\n" + pem.strip() + "\n")
        return True

    return change


def _duration_change(doc) -> bool:
    spec = doc.get("spec")
    if spec is None:
        return False
    keys = list(spec.keys())
    if "duration" in spec:
        spec["duration"] = "2160h"
        position = keys.index("duration") + 1
    else:
        position = len(keys)
    if "renewBefore" in spec:
        spec["renewBefore"] = "720h"
    else:
        spec.insert(position, "renewBefore", "720h")
    return True


def fixed_texts(texts: dict[str, str], findings: list[Finding], level: Applicability,
                system_paths: tuple[str, ...] = ()) -> tuple[dict[str, str], list[Finding]]:
    """The texts with every fixable finding at or above `level` fixed (each file's documents edited
    in turn), and the findings whose fix went in."""
    out = dict(texts)
    applied: list[Finding] = []
    done_certificates: set[tuple[str, str]] = set()
    for finding in sorted(findings, key=Finding.sort_key):
        if finding.suppression is not None or not fixable(finding) or Applicability.UNSAFE < level:
            continue
        if finding.rule == "IL602":
            path, ref, change = finding.path, finding.properties["resource"], _subpath_change(finding, system_paths)
        elif finding.rule == "IL605":
            path, ref, change = finding.path, finding.properties["bundle_source"], _append_ca_change(finding)
        else:
            path, ref, change = finding.path, finding.properties["resource"], _duration_change
            if (path, ref) in done_certificates:
                applied.append(finding)
                continue
            done_certificates.add((path, ref))
        if path not in out:
            continue
        new = _edit_document(out[path], ref, change)
        if new is not None and new != out[path]:
            out[path] = new
            applied.append(finding)
    return out, applied


def as_edit(original: str, fixed: str) -> Edit:
    """One edit from `original` to `fixed`: the changed middle, common prefix and suffix kept."""
    start = 0
    limit = min(len(original), len(fixed))
    while start < limit and original[start] == fixed[start]:
        start += 1
    end_o, end_f = len(original), len(fixed)
    while end_o > start and end_f > start and original[end_o - 1] == fixed[end_f - 1]:
        end_o -= 1
        end_f -= 1
    return Edit(start, end_o, fixed[start:end_f])
