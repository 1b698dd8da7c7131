"""What an image check receives: the flattened image, its config, its OS family, and the trust facts
every check shares (bundle, anchors, custom CAs, runtime stores), each computed once, lazily.

Checks never open files or images: they read through `ImageContext` and return `Hit`s made by
`ctx.hit(...)`, which records the layer (index and digest) and the history entry that put the
path there, so every finding can be traced back to a build step.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from typing import Any, Callable, Iterable

from ...certs.load import CertRecord, load_certificates
from ...dockerfile.model import family_facts
from ...findings import Severity
from ...image.fs import FileInfo, norm
from ..registry import Hit

# Families whose ca-certificates package ships the public (Mozilla-derived) root set.
PUBLIC_SET_FAMILIES = frozenset({"debian", "ubuntu", "alpine", "wolfi", "rhel", "suse", "arch", "distroless"})
# Where the package keeps that public set, per family (trust-stores.md §1.1).
PUBLIC_SOURCES = {
    "debian": ("/usr/share/ca-certificates/mozilla",),
    "ubuntu": ("/usr/share/ca-certificates/mozilla",),
    "distroless": ("/usr/share/ca-certificates/mozilla",),
    "alpine": ("/usr/share/ca-certificates/mozilla",),
    "wolfi": ("/usr/share/ca-certificates/mozilla",),
    "rhel": ("/usr/share/pki/ca-trust-source/ca-bundle.trust.p11-kit",),
    "suse": ("/usr/share/pki/trust/anchors",),
    "arch": ("/usr/share/ca-certificates/trust-source/mozilla.trust.p11-kit",),
}
# Families whose update tool processes only `*.crt` in the anchor directory (D3, A5).
# Debian and Ubuntu read only *.crt (D3); Alpine/Wolfi take any non-dot file (A5; issue 3).
CRT_ONLY_FAMILIES = frozenset({"debian", "ubuntu"})
# The family names the runtime-store code knows (certs/runtimes.py).
RUNTIME_FAMILY = {"debian": "debian", "ubuntu": "debian", "distroless": "debian", "alpine": "alpine",
                  "wolfi": "alpine", "rhel": "rhel", "suse": "suse"}
RHEL_IDS = {"rhel", "fedora", "centos", "amzn", "rocky", "almalinux", "ol", "mariner", "azurelinux", "cloudlinux"}
# A full public set has ~140 roots; a "bundle" of fewer than this was cut down or replaced.
SMALL_BUNDLE = 100
TLS_CLIENT_NAMES = ("curl", "wget", "openssl", "python3", "python", "node", "nodejs", "java", "git", "ruby", "php",
                    "dotnet")
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
GO_BUILDINFO = b"\xff Go buildinf:"
GO_SCAN_DIRS = ("/", "/app", "/usr/local/bin", "/go/bin", "/ko-app", "/bin", "/usr/bin")
GO_MIN_SIZE = 512 * 1024
OWN_ROOT_RUNTIMES = ("java", "python-requests", "node")


# --------------------------------------------------------------------------- OS family

def parse_os_release(data: bytes | None) -> dict[str, str]:
    fields: dict[str, str] = {}
    for line in (data or b"").decode("utf-8", "replace").splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip() and not key.startswith("#"):
            fields[key.strip()] = value.strip().strip("\"'")
    return fields


def detect_os_family(tree) -> tuple[str | None, dict[str, str]]:
    """The family (a key of rules/os-families.toml) from the filesystem, per trust-stores.md §1.5:
    os-release ID/ID_LIKE, distroless markers, release files, then package databases."""
    release = parse_os_release(tree.read("/etc/os-release") or tree.read("/usr/lib/os-release"))
    ids = [release.get("ID", "").lower()] + release.get("ID_LIKE", "").lower().split()
    distroless = ("distroless" in release.get("PRETTY_NAME", "").lower()
                  or "distroless" in release.get("HOME_URL", "").lower()
                  or (tree.info("/var/lib/dpkg/status.d") is not None and tree.info("/var/lib/dpkg/status") is None))
    for ident in ids:
        if ident == "debian":
            return ("distroless" if distroless else "debian"), release
        if ident == "ubuntu":
            return "ubuntu", release
        if ident in ("wolfi", "chainguard"):
            return "wolfi", release
        if ident == "alpine":
            return "alpine", release
        if ident in RHEL_IDS:
            return "rhel", release
        if "suse" in ident or ident == "sles":
            return "suse", release
        if ident == "arch":
            return "arch", release
    probes = (
        ("/etc/alpine-release", "alpine"), ("/lib/apk/db/installed", "alpine"),
        ("/etc/debian_version", "debian"), ("/var/lib/dpkg/status", "debian"),
        ("/var/lib/dpkg/status.d", "distroless"),
        ("/etc/redhat-release", "rhel"), ("/etc/system-release", "rhel"), ("/var/lib/rpm", "rhel"),
        ("/usr/lib/sysimage/rpm", "rhel"),
    )
    for path, family in probes:
        if tree.info(path) is not None:
            return family, release
    if tree.info("/bin/busybox") is not None:
        return "busybox", release
    if tree.info("/bin/sh") is None:
        return "scratch", release
    return None, release


def user_ids(tree, user: str) -> tuple[int | None, int | None]:
    """(uid, gid) of the config's USER ("name", "uid", "name:group", "uid:gid"); (None, None) for root/unknown."""
    if not user:
        return None, None
    name, _, group = user.partition(":")

    def lookup(path: str, wanted: str, column: int) -> int | None:
        if wanted.isdigit():
            return int(wanted)
        for line in (tree.read(path) or b"").decode("utf-8", "replace").splitlines():
            parts = line.split(":")
            if len(parts) > column and parts[0] == wanted and parts[column].isdigit():
                return int(parts[column])
        return None

    uid = lookup("/etc/passwd", name, 2)
    gid = lookup("/etc/group", group, 2) if group else None
    if gid is None and not name.isdigit():
        for line in (tree.read("/etc/passwd") or b"").decode("utf-8", "replace").splitlines():
            parts = line.split(":")
            if len(parts) > 3 and parts[0] == name and parts[3].isdigit():
                gid = int(parts[3])
    return uid, gid


# --------------------------------------------------------------------------- trust facts

@dataclass
class CertFile:
    """Certificates loaded from one file of the image."""

    path: str
    certificates: list[CertRecord] = field(default_factory=list)
    private_keys: list[str] = field(default_factory=list)
    container: str = "unknown"

    @property
    def fingerprints(self) -> set[str]:
        return {c.fingerprint_sha256 for c in self.certificates}


_PEM_CERT = re.compile(rb"-----BEGIN CERTIFICATE-----(.*?)-----END CERTIFICATE-----", re.S)


def pem_fingerprints(data: bytes) -> set[str]:
    """SHA-256 fingerprints of the PEM certificates in `data`, without parsing them (the DER's hash):
    cheap enough for a whole public root set."""
    import base64
    import binascii
    import hashlib

    found = set()
    for match in _PEM_CERT.finditer(data):
        try:
            der = base64.b64decode(b"".join(match.group(1).split()))
        except (binascii.Error, ValueError):
            continue
        found.add(hashlib.sha256(der).hexdigest())
    return found


@lru_cache(maxsize=1)
def certifi_fingerprints() -> frozenset[str]:
    try:
        import certifi

        with open(certifi.where(), "rb") as fh:
            return frozenset(pem_fingerprints(fh.read()))
    except (ImportError, OSError):
        return frozenset()


def short_digest(digest: str | None) -> str:
    return (digest or "").split(":")[-1][:12]


def env_dict(env_list: Iterable[str]) -> dict[str, str]:
    env: dict[str, str] = {}
    for item in env_list or []:
        key, _, value = str(item).partition("=")
        env[key] = value
    return env


@dataclass
class ImageContext:
    tree: Any  # imagelint.image.layers.ImageTree
    config: dict[str, Any]  # summarize_config(): Env, Entrypoint, Cmd, User, Labels, WorkingDir, history
    reference: str = ""
    expiring_days: int = 30
    # Re-opens a layer's uncompressed tar stream (only for the rare lazy look into a large file).
    open_layer: Callable[[int], Any] | None = None
    _hits: list[Hit] = field(default_factory=list, repr=False)

    # ---- config

    @cached_property
    def env(self) -> dict[str, str]:
        return env_dict(self.config.get("Env") or [])

    @property
    def env_list(self) -> list[str]:
        return list(self.config.get("Env") or [])

    @cached_property
    def entrypoint(self) -> list[str]:
        return [str(w) for w in (self.config.get("Entrypoint") or []) + (self.config.get("Cmd") or [])]

    @property
    def user(self) -> str:
        return str(self.config.get("User") or "")

    @cached_property
    def history(self) -> list[dict]:
        return list(self.config.get("history") or [])

    @cached_property
    def user_ids(self) -> tuple[int | None, int | None]:
        return user_ids(self.tree, self.user)

    # ---- OS family

    @cached_property
    def _os(self) -> tuple[str | None, dict[str, str]]:
        return detect_os_family(self.tree)

    @property
    def family(self) -> str | None:
        return self._os[0]

    @property
    def os_release(self) -> dict[str, str]:
        return self._os[1]

    @cached_property
    def facts(self) -> dict:
        return family_facts(self.family)

    @property
    def runtime_family(self) -> str | None:
        return RUNTIME_FAMILY.get(self.family or "")

    @property
    def ships_public_set(self) -> bool:
        return self.family in PUBLIC_SET_FAMILIES

    # ---- certificate files

    def load(self, path: str) -> CertFile | None:
        """Certificates in one file of the image (links followed), cached; None when absent or not kept."""
        real = self.tree.realpath(path)
        if real is None:
            return None
        cache = self.__dict__.setdefault("_cert_cache", {})
        if real not in cache:
            data = self.tree.read(real)
            if data is None:
                cache[real] = None
            else:
                loaded = load_certificates(data, path)
                cache[real] = CertFile(path, loaded.certificates, loaded.private_keys, loaded.container)
        found = cache[real]
        return None if found is None else CertFile(path, found.certificates, found.private_keys, found.container)

    @cached_property
    def bundle_path(self) -> str | None:
        """The generated OS bundle the family's clients read: the first existing of its bundle paths
        (unknown family: Go's list, which covers every family)."""
        from ...certs.runtimes import GO_CERT_FILES

        candidates = list(self.facts.get("bundle_paths") or []) or list(GO_CERT_FILES)
        if self.family in ("scratch", "busybox", None):
            candidates += [p for p in GO_CERT_FILES if p not in candidates]
        for path in candidates:
            info = self.tree.info(path)
            if info is not None and info.kind == "file":
                return path
        return None

    @cached_property
    def bundle(self) -> CertFile | None:
        return self.load(self.bundle_path) if self.bundle_path else None

    @cached_property
    def bundle_fingerprints(self) -> set[str]:
        return self.bundle.fingerprints if self.bundle else set()

    @cached_property
    def ignored_anchor_files(self) -> list[CertFile]:
        """Certificates in the anchor directories under a name the family's tool skips (D3: not *.crt)."""
        if self.family not in CRT_ONLY_FAMILIES:
            return []
        files = []
        for directory in self.facts.get("anchor_dirs") or []:
            for path in self.walk_files(directory, 8):
                if path.endswith(".crt") or path.rsplit("/", 1)[-1].startswith("."):
                    continue
                loaded = self.load(path)
                if loaded is not None and loaded.certificates:
                    files.append(loaded)
        return files

    @cached_property
    def anchor_files(self) -> list[CertFile]:
        """Certificates the family's update tool would add to the bundle (its anchor directories)."""
        files = []
        crt_only = self.family in CRT_ONLY_FAMILIES
        # Alpine's update-ca reads the top level only (A5); Debian's find -L descends (D3).
        depth = 0 if self.family in ("alpine", "wolfi") else 8
        for directory in self.facts.get("anchor_dirs") or []:
            for path in self.walk_files(directory, depth):
                if crt_only and not path.endswith(".crt"):
                    continue
                loaded = self.load(path)
                if loaded is not None and loaded.certificates:
                    files.append(loaded)
        return files

    def walk_files(self, directory: str, depth: int = 8) -> list[str]:
        """Regular files under a directory of the image, links followed inside it, sorted."""
        out: list[str] = []
        if depth < 0:
            return out
        for name in self.tree.listdir(directory):
            path = f"{directory.rstrip('/')}/{name}"
            info = self.tree.info(path)
            if info is None:
                continue
            if info.kind == "dir":
                out.extend(self.walk_files(path, depth - 1))
            elif info.kind == "file":
                out.append(path)
        return out

    @cached_property
    def public_fingerprints(self) -> set[str]:
        """The family's public root set as the image ships it (its ca-certificates package data)."""
        fingerprints: set[str] = set()
        for source in PUBLIC_SOURCES.get(self.family or "", ()):
            info = self.tree.info(source)
            paths = self.walk_files(source) if info is not None and info.kind == "dir" else [source]
            for path in paths:
                fingerprints |= pem_fingerprints(self.tree.read(path) or b"")
        return fingerprints

    @cached_property
    def reference_public_fingerprints(self) -> set[str]:
        """Well-known public roots: the image's own public set, else certifi's Mozilla bundle
        (only ever used to tell "holds no public root at all")."""
        if self.public_fingerprints:
            return self.public_fingerprints
        return certifi_fingerprints()

    @cached_property
    def custom_cas(self) -> dict[str, tuple[CertRecord, str]]:
        """fingerprint -> (certificate, where it was found): every anchor, plus bundle certificates
        outside the family's public set (when the image ships that set, so "outside" is known)."""
        custom: dict[str, tuple[CertRecord, str]] = {}
        for anchor in self.anchor_files:
            for cert in anchor.certificates:
                custom.setdefault(cert.fingerprint_sha256, (cert, anchor.path))
        if self.bundle and self.public_fingerprints:
            for cert in self.bundle.certificates:
                if cert.fingerprint_sha256 not in self.public_fingerprints:
                    custom.setdefault(cert.fingerprint_sha256, (cert, self.bundle.path))
        return custom

    @cached_property
    def registered_custom_cas(self) -> dict[str, tuple[CertRecord, str]]:
        """Custom CAs the OS store really trusts (they are in the generated bundle)."""
        return {fp: v for fp, v in self.custom_cas.items() if fp in self.bundle_fingerprints}

    # ---- runtimes

    @cached_property
    def path_dirs(self) -> list[str]:
        return [norm(p) for p in self.env.get("PATH", DEFAULT_PATH).split(":") if p]

    def which(self, name: str) -> str | None:
        for directory in self.path_dirs:
            info = self.tree.info(f"{directory}/{name}")
            if info is not None and info.kind == "file":
                return f"{directory}/{name}"
        return None

    @cached_property
    def tls_clients(self) -> list[str]:
        """Programs that verify TLS against the OS store (Go binaries looked for only when needed)."""
        from ...certs.runtimes import java_homes

        found = [path for name in TLS_CLIENT_NAMES if (path := self.which(name))]
        for directory in self.path_dirs:
            for name in self.tree.listdir(directory):
                if re.match(r"^python3\.\d+$", name) and f"{directory}/{name}" not in found:
                    found.append(f"{directory}/{name}")
        found += [f"{home}/bin/java" for home in java_homes(self.tree, self.env)]
        return list(dict.fromkeys(found))

    @cached_property
    def go_binaries(self) -> list[str]:
        """Executables with Go build info, in the usual app locations. Their contents are not kept
        while streaming, so the layers that hold candidates are streamed once more, only when asked."""
        candidates: dict[str, tuple[str, int]] = {}
        for directory in GO_SCAN_DIRS:
            for name in self.tree.listdir(directory)[:500]:
                path = norm(f"{directory}/{name}")
                info = self.tree.info(path, follow=False)
                if info is None or info.kind != "file" or not info.mode & 0o111 or info.size < GO_MIN_SIZE:
                    continue
                ref = self.tree.layer_of(path)
                if ref is not None:
                    candidates[path] = (path, ref.index)
        if not candidates or self.open_layer is None:
            return []
        found = []
        by_layer: dict[int, set[str]] = {}
        for path, (_, index) in candidates.items():
            by_layer.setdefault(index, set()).add(path)
        for index, paths in sorted(by_layer.items()):
            found.extend(go_binaries_in_layer(self.open_layer(index), paths))
        return sorted(found)

    @cached_property
    def all_stores(self) -> list:
        """Every runtime's effective trust store (certs/runtimes.py), read from the image (the inventory)."""
        from ...certs.runtimes import discover

        return discover(self.tree, self.env, self.runtime_family, entrypoint=self.entrypoint)

    @cached_property
    def stores(self) -> list:
        """The stores of the runtimes that keep their own roots (JVMs, requests, Node): what the checks
        compare with the OS store. OpenSSL's and Go's are the OS store itself, read by the checks directly."""
        if "all_stores" in self.__dict__:
            return [s for s in self.all_stores if s.runtime in OWN_ROOT_RUNTIMES]
        from ...certs.runtimes import discover

        return discover(self.tree, self.env, self.runtime_family, only=list(OWN_ROOT_RUNTIMES),
                        entrypoint=self.entrypoint)

    # ---- linking back to layers

    def layer_ref(self, path: str | None):
        if not path:
            return None
        ref = self.tree.layer_of(path)
        if ref is None:
            real = self.tree.realpath(path)
            ref = self.tree.layer_of(real) if real else None
        return ref

    def created_by_env(self, name: str) -> str | None:
        """The last history entry that set variable `name` (ENV in this image or its base)."""
        pattern = re.compile(rf"(?:^|[\s\"'])(?:ENV\s+)?{re.escape(name)}[=\s]")
        for entry in reversed(self.history):
            text = str(entry.get("created_by") or "")
            if "ENV" in text and pattern.search(text):
                return text
        return None

    def hit(self, rule: str, message: str, path: str | None = None, layer=None,
            severity: Severity | None = None, **props) -> Hit:
        """A finding on a path of the image (or on its config when path is None).

        `layer` is a LayerRecord/LayerRef (or its index); by default, the layer that put `path` there."""
        if isinstance(layer, int):
            layer = self.tree.layer_records[layer]
        if layer is None:
            layer = self.layer_ref(path)
        properties: dict[str, Any] = {}
        if path:
            properties["image_path"] = path
        if layer is not None:
            properties["layer"] = {"index": layer.index, "digest": layer.digest or layer.diff_id,
                                   "diff_id": layer.diff_id}
            if layer.created_by:
                properties["created_by"] = layer.created_by
        properties.update({k: v for k, v in props.items() if v is not None})
        return Hit(rule, message, 1, 1, 1, 1, None, severity, None, properties)


def go_binaries_in_layer(stream, wanted: set[str], chunk_size: int = 1 << 20) -> list[str]:
    """Stream one layer tar and report which of the `wanted` paths carry Go build info."""
    import tarfile

    from ...image.layers import entry_path

    found = []
    try:
        with tarfile.open(fileobj=stream, mode="r|") as tar:
            for member in tar:
                if not member.isreg():
                    continue
                try:
                    path = entry_path(member.name, "layer")
                except Exception:
                    continue
                if path not in wanted:
                    continue
                fileobj = tar.extractfile(member)
                if fileobj is None:
                    continue
                head = fileobj.read(4)
                if head != b"\x7fELF":
                    continue
                tail = b""
                while chunk := fileobj.read(chunk_size):
                    if GO_BUILDINFO in tail + chunk:
                        found.append(path)
                        break
                    tail = chunk[-len(GO_BUILDINFO):]
    except (tarfile.TarError, OSError, EOFError):
        return found
    finally:
        close = getattr(stream, "close", None)
        if close:
            close()
    return found


def describe_layer(properties: dict) -> str:
    """'layer 3 (sha256:abc123def456) `COPY x /y`' for messages."""
    layer = properties.get("layer")
    if not layer:
        return "the image config"
    text = f"layer {layer['index']} (sha256:{short_digest(layer['digest'])})"
    created_by = properties.get("created_by")
    if created_by:
        text += f" `{shorten(created_by)}`"
    return text


def shorten(text: str, width: int = 100) -> str:
    text = re.sub(r"\s+", " ", re.sub(r"\s*# buildkit\s*$", "", text)).strip()
    return text if len(text) <= width else text[: width - 3] + "..."


def fingerprint_label(cert: CertRecord) -> str:
    return f"{cert.label} (SHA-256 {cert.fingerprint_sha256[:16]}...)"


def is_writable_by_others(info: FileInfo, uid: int | None, gid: int | None) -> str | None:
    """Why a file or directory can be changed by someone other than root; None when it cannot."""
    mode = info.mode
    if mode & 0o002:
        return f"world-writable (mode {mode:04o})"
    if info.uid != 0:
        if uid is not None and info.uid == uid:
            return f"owned by the image's USER (uid {info.uid})"
        return f"owned by uid {info.uid}, not root"
    if mode & 0o020 and info.gid != 0:
        if gid is not None and info.gid == gid:
            return f"group-writable by the image's USER group (gid {info.gid}, mode {mode:04o})"
        return f"group-writable by gid {info.gid} (mode {mode:04o})"
    return None

