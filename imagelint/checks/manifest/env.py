"""A container's env and arguments: CA variables naming a file the mount does not hold (IL603),
verification switched off (IL604, the Dockerfile rules' own table of switches), and a Java
trustStore that is a mounted PEM file (IL608)."""
from __future__ import annotations

import os
import shlex

from ...kube.model import KubeSet
from ...trust.pod import container_model
from ...dockerfile.queries import short_flag_cluster_has
from ...facts.insecure_env import GO_FALSE, GO_TRUE
from ..dockerfile.insecure_cmd import CLI_FLAGS, CURL_SHORT_WITH_ARG
from ..dockerfile.insecure_config import env_rule
from ..image.env import CA_PATH_VARIABLES
from ..registry import check
from .common import mounted_data, trust_paths
from .context import ManifestContext


@check("IL603", kind="manifest")
def env_path_missing(kset: KubeSet, ctx: ManifestContext):
    for workload in kset.workloads:
        for container in workload.containers:
            for variable, path, line in trust_paths(container):
                found = mounted_data(container, path)
                if found is None:
                    continue  # not a mounted path: the image's content (imagelint scan checks it)
                mount, rel, data, known = found
                files = mount.spec().files
                if files is None:
                    continue  # an emptyDir, a CSI volume, a source not in the set: contents unknown
                if mount.sub_path is not None:
                    present = bool(files)
                else:
                    present = rel == "" or rel in files or any(n.startswith(rel + "/") for n in files)
                if present:
                    continue
                consequence = CA_PATH_VARIABLES.get(variable, "every Java handshake fails with PKIX path building failed")
                keys = ", ".join(sorted(files)) or "no keys"
                yield ctx.hit("IL603", f"{container.label}: {variable}={path} lies in the mount of "
                              f"{mount.volume.label() if mount.volume else mount.volume_name} at {mount.path}, which "
                              f"holds {keys}, not {rel or os.path.basename(path)}: {consequence}",
                              workload.resource, line, container=container, variable=variable, missing_path=path)


def _arg_switches(words: list[str]) -> list[str]:
    """Verification-off flags in a command line (argv, or the script of `sh -c`)."""
    found = []
    if len(words) >= 3 and os.path.basename(words[0]) in ("sh", "bash", "ash", "dash") and words[1] == "-c":
        try:
            script = shlex.split(words[2], comments=True)
        except ValueError:
            script = words[2].split()
        segments: list[list[str]] = [[]]
        for word in script:
            if word in (";", "&&", "||", "|"):
                segments.append([])
            elif word.endswith(";"):  # `curl -k x; next`: shlex keeps the ; on the word
                segments[-1].append(word[:-1])
                segments.append([])
            else:
                segments[-1].append(word)
        for segment in segments:
            found.extend(_arg_switches(segment))
        return found
    if not words:
        return found
    name = os.path.basename(words[0])
    args = words[1:]
    if name == "curl":
        found += [a for a in args if a in ("-k", "--insecure") or short_flag_cluster_has(a, "k", CURL_SHORT_WITH_ARG)]
    if name == "wget":
        found += [a for a in args if a == "--no-check-certificate"]
    for tools, flag, kind, _effect in CLI_FLAGS:
        if name not in tools:
            continue
        for a in args:
            value = a[len(flag) + 1:] if a.startswith(flag + "=") else None
            if (a == flag and kind in ("bare", "gobool")) or (value is not None and (
                    (kind == "gobool" and value in GO_TRUE) or (kind == "gofalse" and value in GO_FALSE)
                    or (kind == "no" and value.lower() in ("no", "false")))):
                found.append(a)
    return found


@check("IL604", kind="manifest")
def insecure_env(kset: KubeSet, ctx: ManifestContext):
    for workload in kset.workloads:
        for container in workload.containers:
            for name, var in container.env.items():
                if var.value is None:
                    continue
                rule = env_rule(name, var.value)
                if rule is None:
                    continue
                _rid, effect = rule
                shown = f'{name}=""' if var.value == "" else f"{name}={var.value}"
                where = (f" (from {var.use.source.label}, key {name})" if var.origin == "envFrom" and var.use
                         else f" (from {var.use.source.label})" if var.origin == "valueFrom" and var.use else "")
                yield ctx.hit("IL604", f"{container.label}: {shown}{where} {effect}, for every process of the "
                              "container", workload.resource, var.line, container=container, variable=name)
            words = container.command + container.args
            for flag in _arg_switches(words):
                node = container.node
                line = node.line_of("args") if "args" in node else node.line_of("command")
                yield ctx.hit("IL604", f"{container.label}: the container runs {' '.join(words)[:120]!r} with {flag}, "
                              "which turns off TLS certificate verification", workload.resource, line,
                              container=container, flag=flag)


@check("IL608", kind="manifest")
def java_pem_truststore(kset: KubeSet, ctx: ManifestContext):
    from ...trust.stores import java_store

    for workload in kset.workloads:
        for container in workload.containers:
            paths = [(v, p, line) for v, p, line in trust_paths(container) if v == "-Djavax.net.ssl.trustStore"]
            for _variable, path, line in paths:
                found = mounted_data(container, path)
                if found is None or found[2] is None:
                    continue
                model = container_model(container)
                store = java_store(model.view, model.env, "/opt/java/openjdk")
                if store.details.get("java_store_error") != "not-a-keystore":
                    continue
                yield ctx.hit("IL608", f"{container.label}: -Djavax.net.ssl.trustStore={path} is a mounted PEM file, "
                              "not a keystore (JKS or PKCS#12): the JVM cannot open it and every TLS connection fails; "
                              "build a PKCS#12 store (keytool -importcert) and mount that, or point at the JVM's cacerts",
                              workload.resource, line, container=container, truststore=path)
