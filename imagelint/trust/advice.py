"""The change that makes a runtime trust a chain: Dockerfile lines for the image, from the family's
trust facts, or the server-side fix when nothing in the image can help."""
from __future__ import annotations

import re
from typing import TYPE_CHECKING

from ..facts import family as named_family
from .stores import system_bundle

if TYPE_CHECKING:  # pragma: no cover
    from .model import TrustModel


def _slug(name: str | None) -> str:
    return re.sub(r"[^a-z0-9]+", "-", (name or "corp-root-ca").lower()).strip("-") or "corp-root-ca"


def _cn_of(rfc4514: str) -> str | None:
    match = re.search(r"(?:^|,)CN=((?:[^,\\]|\\.)+)", rfc4514)
    return match.group(1) if match else None


def _missing_ca(reason: str, cert, result) -> tuple[str, str]:
    """(file name for the certificate the store needs, what it is and where to get it)."""
    if reason == "self-signed-leaf":
        return (f"{_slug(cert.common_name)}.crt",
                f"the server's self-signed certificate {cert.subject} (better: have a CA issue it)")
    if reason == "leaf-not-ca" and result is not None:
        cert = result.chain[-1]
    if reason in ("intermediate-anchor", "leaf-not-ca") or (reason == "untrusted-root" and not cert.self_signed):
        # The store needs the issuer, which the server does not send: only its name is known.
        return (f"{_slug(_cn_of(cert.issuer))}.crt",
                f"the CA {cert.issuer} (not sent by the server: get it from its owner)")
    return f"{_slug(cert.common_name)}.crt", f"the root CA {cert.subject}\n#   sha256 {cert.fingerprint_sha256}"


UPDATE_TOOL_DIRS = ("/usr/sbin", "/usr/bin", "/sbin", "/bin")


def os_ca_snippet(model: "TrustModel", filename: str) -> str:
    """Dockerfile lines that register `filename` as a CA in the model's OS store, from its family's
    trust facts (Debian's when the family is unknown); a builder stage of Debian's when the image
    has no shell or no update tool of its own (distroless, scratch)."""
    view = model.view
    fam = named_family(model.family or "debian")
    has_sh = any(view.info(p) is not None for p in ("/bin/sh", "/usr/bin/sh"))
    if fam.anchor_dirs and fam.update_command and has_sh:
        anchor = f"{fam.anchor_dirs[0]}/{filename}"
        lines = []
        tool_missing = not any(view.info(f"{d}/{fam.update_command}") is not None for d in UPDATE_TOOL_DIRS)
        if tool_missing and fam.install_ca_tool:
            lines.append(f"RUN {fam.install_ca_tool}")
        lines += [f"COPY {filename} {anchor}", f"RUN {fam.update_command}"]
        user = model.user.split(":")[0]
        if user and user not in ("root", "0"):
            lines = ["USER root", *lines, f"USER {model.user}"]
        return "\n".join(lines)
    debian = named_family("debian")
    return "\n".join([
        "FROM debian:bookworm-slim AS cacerts",
        f"RUN {debian.install_ca_tool}",
        f"COPY {filename} {debian.anchor_dirs[0]}/{filename}",
        f"RUN {debian.update_command}",
        "# in the final stage:",
        f"COPY --from=cacerts {debian.bundle} {debian.bundle}",
    ])


def fix_for(reason: str, store, cert, chain, host, model: "TrustModel", result=None) -> str:
    """The change as Dockerfile lines for an image; as shell commands when the subject is this host."""
    advice = _image_fix(reason, store, cert, chain, host, model, result)
    return as_host_commands(advice) if model.kind == "host" else advice


def as_host_commands(dockerfile_lines: str) -> str:
    """The same change for this machine: COPY is a copy, RUN a command as root, ENV an export."""
    out = []
    for line in dockerfile_lines.splitlines():
        keyword, _, rest = line.partition(" ")
        if keyword == "COPY":
            out.append(f"sudo cp {rest}")
        elif keyword == "RUN":
            out.append(f"sudo sh -c '{rest}'" if any(c in rest for c in "&|;$") else f"sudo {rest}")
        elif keyword == "ENV":
            out.append(f"export {rest}  # in the environment of the program that connects")
        elif keyword == "USER":
            continue
        else:
            out.append(line)
    return "\n".join(out)


def anchored_but_unregistered(model: "TrustModel", needed) -> tuple | None:
    """(certificate, path) when the CA the store needs is already in the image's anchor directory
    but not in the generated bundle: only the update command is missing."""
    bundle = model.bundle_fingerprints
    for fingerprint, (cert, path) in model.custom_cas.items():
        if fingerprint in bundle or path == model.bundle_path:
            continue
        if fingerprint == needed.fingerprint_sha256 or (not needed.self_signed and cert.subject == needed.issuer):
            return cert, path
    return None


def register_only_snippet(model: "TrustModel", path: str) -> str | None:
    fam = model.facts
    if not fam.update_command:
        return None
    lines = []
    tool_missing = not any(model.view.info(f"{d}/{fam.update_command}") is not None for d in UPDATE_TOOL_DIRS)
    if tool_missing and fam.install_ca_tool:
        lines.append(f"RUN {fam.install_ca_tool}")
    lines.append(f"RUN {fam.update_command}")
    user = model.user.split(":")[0]
    if user and user not in ("root", "0"):
        lines = ["USER root", *lines, f"USER {model.user}"]
    return (f"# {path} is already in the anchor directory but not in {model.bundle_path or 'the bundle'}: "
            f"only `{fam.update_command}` is missing\n" + "\n".join(lines))


def _image_fix(reason: str, store, cert, chain, host, model: "TrustModel", result=None) -> str:
    tree = model.view

    if reason == "missing-intermediate":
        return (f"# Server-side fix: serve the full chain (leaf, then the intermediate {cert.issuer}).\n"
                "# e.g. nginx: ssl_certificate must hold leaf + intermediate; no image change helps every client.")
    if reason in ("expired", "not-yet-valid"):
        what = "renew" if reason == "expired" else "re-issue (or fix the clock of)"
        if cert.is_ca and not chain_contains(chain, cert):
            return (f"# The trusted CA {cert.subject} itself is {reason.replace('-', ' ')}: "
                    "replace it in the image with the CA's current certificate.")
        return (f"# Server-side fix: {what} {cert.subject} (valid {cert.not_before.date()} .. {cert.not_after.date()})"
                " with a realistic lifetime and monitor its expiry; nothing in the image can fix this.")
    if reason == "hostname-mismatch":
        names = ", ".join([*cert.dns_names, *cert.ip_addresses]) or f"CN={cert.common_name}"
        return (f"# Server-side fix: re-issue {cert.common_name or cert.subject} with subjectAltName DNS:{host}, "
                f"or connect with a name it carries ({names}).")
    if reason in ("issuer-not-ca", "path-length-exceeded", "not-rfc5280"):
        return f"# Server-side fix: re-issue {cert.subject} from a CA that follows RFC 5280."
    if reason == "no-roots":
        return os_ca_snippet(model, "corp-root-ca.crt")

    filename, how = _missing_ca(reason, cert, result)
    if reason == "untrusted-root" and store.runtime not in ("java", "node"):
        needed = result.chain[-1] if result is not None and getattr(result, "chain", None) else cert
        present = anchored_but_unregistered(model, needed)
        snippet = register_only_snippet(model, present[1]) if present else None
        if snippet:
            return snippet + ("" if store.runtime != "python-requests"
                              else f"\nENV REQUESTS_CA_BUNDLE={system_bundle(model.family)}")
    alias = filename[:-4]
    header = f"# {filename} (PEM): {how}\n"
    if model.kind == "pod":
        mounted = _pod_mounted_source(store, tree)
        if mounted is not None:
            return _pod_fix(store, mounted, how)
    if store.runtime == "java":
        java_home = store.details.get("java_home", "$JAVA_HOME")
        if store.details.get("configured_by") in ("javax.net.ssl.trustStore", "jssecacerts"):
            keystore = store.sources[0].split(" -> ")[0] if store.sources else "<truststore>"
            target = f"-keystore {keystore}"
        elif store.sources and " -> /etc/" in store.sources[0]:
            # Distro JDK: its cacerts is generated from the OS store (Debian ca-certificates-java README.Debian,
            # update-ca-trust(8) on RHEL).
            return header + os_ca_snippet(model, filename) + "\n# (this JDK's cacerts is generated from the OS store)"
        elif tree is not None and tree.info(f"{java_home}/jre/lib/security/cacerts") is not None:
            target = f"-keystore {java_home}/jre/lib/security/cacerts"  # JDK 8: no -cacerts option
        else:
            target = "-cacerts"
        return header + "\n".join([
            f"COPY {filename} /tmp/{filename}",
            f"RUN {java_home}/bin/keytool -importcert -noprompt {target} -storepass changeit "
            f"-alias {alias} -file /tmp/{filename}",
        ])
    if store.runtime == "node":
        return header + "\n".join([f"COPY {filename} /usr/local/share/ca-certificates/{filename}",
                                   f"ENV NODE_EXTRA_CA_CERTS=/usr/local/share/ca-certificates/{filename}"])
    if store.runtime == "python-requests":
        bundle = system_bundle(model.family)
        return header + os_ca_snippet(model, filename) + f"\nENV REQUESTS_CA_BUNDLE={bundle}"
    return header + os_ca_snippet(model, filename)


def chain_contains(chain, cert) -> bool:
    return any(c.fingerprint_sha256 == cert.fingerprint_sha256 for c in chain)




def _pod_mounted_source(store, view):
    """(path, mount) of the first file of the store that a pod volume provides, if any."""
    mount_of = getattr(view, "mount_of", None)
    if mount_of is None:
        return None
    for source in store.sources:
        path = source.split(" ")[0]
        owner = mount_of(path)
        if owner is not None:
            return path, owner[0], owner[1]
    return None


def _pod_fix(store, mounted, how: str) -> str:
    """The pod's store is a mounted ConfigMap or Secret: the CA goes there, not into the image."""
    path, mount, rel = mounted
    key = rel or path.rsplit("/", 1)[-1]
    restart = ("\n# then restart the pods: this runtime reads its CA file once at start"
               if store.runtime in ("node", "java") else "")
    return (f"# {store.name} reads {path}, which the pod mounts from {mount.label or 'a volume'} (key {key}).\n"
            f"# Append {how.splitlines()[0]} to that key (PEM); with the manifests at hand:\n"
            "#   imagelint fix --unsafe-fixes <manifests>   (IL605 appends it to the ConfigMap)" + restart)
