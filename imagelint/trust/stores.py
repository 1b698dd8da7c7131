"""Which TLS runtimes a filesystem holds, and the trust store each one would really consult.

Everything is read through a `FileView` (an image or this machine) plus that image's Env, so the
answer is the container's, not the scanning machine's. Where each runtime looks comes from the
trust facts (imagelint/facts/); how it looks follows the runtimes' own documentation (the JSSE
reference guide, Node's CLI docs, requests, Go's crypto/x509 root_linux.go, OpenSSL's SSL_CERT_FILE).
"""
from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from typing import Mapping

from ..certs.load import CertRecord, load_certificates, load_java_trust_store
from ..facts import RUNTIMES, family as named_family, family_of_filesystem, runtime_facts
from ..facts.runtimes import GO_BUILDINFO
from ..fs import FileView, norm

HASHED_NAME = re.compile(r"^[0-9a-f]{8}\.[0-9]+$")


def system_bundle(family: str | None) -> str:
    """The file a family's update tool generates (Debian's when the family is unknown)."""
    return named_family(family).system_bundle or named_family("debian").system_bundle


@dataclass
class TrustStore:
    runtime: str
    name: str  # what a user recognises: "java /opt/java/openjdk", "node /usr/local/bin/node"
    sources: list[str] = field(default_factory=list)  # files and dirs actually consulted
    certificates: list[CertRecord] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # configuration facts worth telling the user
    details: dict = field(default_factory=dict)  # python_version, node_version, java_home, ...

    def describe(self) -> str:
        return f"{self.name}: " + (", ".join(self.sources) if self.sources else "(no certificates found)")


def unread_size(tree: FileView, path: str) -> int | None:
    """The size of a regular file whose contents the view did not keep (a trust file over the
    per-file limit): such a file is there, but too large to check, not missing."""
    info = tree.info(path)
    if info is None or info.kind != "file" or tree.read(path) is not None:
        return None
    return info.size


def too_large_text(path: str, size: int) -> str:
    from ..image.limits import DEFAULT_LIMITS, MIB

    return (f"{path} is too large to check ({size} bytes, over the {DEFAULT_LIMITS.max_kept_file_bytes // MIB} MiB "
            "limit for a file read whole): its certificates were not read")


def _load_file(tree: FileView, path: str, store: TrustStore, passwords: tuple | None = None) -> bool:
    data = tree.read(path)
    if data is None:
        size = unread_size(tree, path)
        if size is not None:
            store.notes.append(too_large_text(path, size))
            store.details.setdefault("too_large", []).append(path)
        return False
    kwargs = {"passwords": passwords} if passwords is not None else {}
    loaded = load_certificates(data, path, **kwargs)
    store.certificates.extend(loaded.certificates)
    store.sources.append(path)
    if "unreadable-keystore" in loaded.notes:
        store.notes.append(f"{path}: keystore could not be opened (wrong or unknown password)")
    return True


# A JVM store it cannot open: every handshake fails with "problem accessing trust store" (observed
# with OpenJDK 17.0.15 for an empty, a truncated and a corrupt store), whatever the password.
BROKEN_JAVA_STORE = {
    "empty": "is empty (0 bytes)",
    "truncated": "is truncated (the keystore ends before its declared contents)",
    "corrupt": "is corrupt (neither a JKS/JCEKS nor a PKCS#12 keystore, nor certificates)",
}


def _load_java_file(tree: FileView, path: str, store: TrustStore, passwords: tuple) -> bool:
    """_load_file for a JVM's cacerts/jssecacerts, telling an empty, truncated or corrupt store
    (store.details["java_store_error"]) from a password problem."""
    data = tree.read(path)
    if data is None:
        return _load_file(tree, path, store, passwords)
    loaded = load_certificates(data, path, passwords=passwords)
    problem = None
    if not data:
        problem = "empty"
    elif "truncated-keystore" in loaded.notes:
        problem = "truncated"
    elif not loaded.certificates and (loaded.container == "unknown" or (
            loaded.container in ("jks", "jceks") and "unreadable-keystore" in loaded.notes)):
        problem = "corrupt"  # a JKS opens without a password, so one that does not is damaged
    store.certificates.extend(loaded.certificates)
    store.sources.append(path)
    if problem:
        store.details["java_store_error"] = problem
        store.notes.append(f"{path} {BROKEN_JAVA_STORE[problem]}: the JVM cannot open it")
    elif "unreadable-keystore" in loaded.notes:
        store.notes.append(f"{path}: keystore could not be opened (wrong or unknown password)")
    return True


def _load_hashed_dir(tree: FileView, directory: str, store: TrustStore, configured: bool = False) -> None:
    """OpenSSL's CApath lookup only ever opens `<subject hash>.<n>` entries (made by rehash)."""
    names = [n for n in tree.listdir(directory) if HASHED_NAME.match(n)]
    if not names:
        # Only worth saying when someone pointed at it (RHEL's default dir is never hashed).
        if configured and tree.info(directory) is not None:
            store.notes.append(f"{directory} has no hashed links (openssl rehash): OpenSSL ignores it")
        return
    before = len(store.certificates)
    for name in names:
        data = tree.read(f"{directory}/{name}")
        if data:
            store.certificates.extend(load_certificates(data, f"{directory}/{name}").certificates)
    if len(store.certificates) > before:
        store.sources.append(f"{directory} (hashed)")


def _dedupe(store: TrustStore) -> TrustStore:
    seen: set[str] = set()
    unique = []
    for cert in store.certificates:
        if cert.fingerprint_sha256 not in seen:
            seen.add(cert.fingerprint_sha256)
            unique.append(cert)
    store.certificates = unique
    return store


def _exists(tree: FileView, path: str) -> bool:
    return tree.info(path) is not None


def _path_dirs(env: Mapping[str, str]) -> list[str]:
    return [norm(p) for p in env.get("PATH", runtime_facts().default_path).split(":") if p]


def _which(tree: FileView, env: Mapping[str, str], name: str) -> str | None:
    for directory in _path_dirs(env):
        info = tree.info(f"{directory}/{name}")
        if info is not None and info.kind == "file":
            return f"{directory}/{name}"
    return None


# ---------------------------------------------------------------------------------------------
# openssl: curl, wget, Python ssl, Ruby, .NET, git-with-openssl


def openssl_present(tree: FileView, env: Mapping[str, str]) -> bool:
    if any(_which(tree, env, tool) for tool in runtime_facts().openssl_clients):
        return True
    for libdir in runtime_facts().openssl_lib_dirs:
        if any(n.startswith("libssl.so") for n in tree.listdir(libdir)):
            return True
    return False


def openssl_dir(tree: FileView, family: str | None) -> str:
    own = named_family(family).openssl_dir
    if own and _exists(tree, own):
        return own
    for candidate in runtime_facts().openssl_dirs:
        if _exists(tree, candidate):
            return candidate
    return "/usr/lib/ssl"


def openssl_store(tree: FileView, env: Mapping[str, str], family: str | None,
                  ssldir: str | None = None, name: str = "openssl") -> TrustStore:
    """SSL_CERT_FILE replaces the default file, SSL_CERT_DIR the default dir; the two are a union
    (observed with OpenSSL 3.0.19 and CPython 3.11.7)."""
    ssldir = ssldir or openssl_dir(tree, family)
    store = TrustStore("openssl", name)
    cafile = env.get("SSL_CERT_FILE") or f"{ssldir}/cert.pem"
    if not _load_file(tree, cafile, store):
        if env.get("SSL_CERT_FILE"):
            store.notes.append(f"SSL_CERT_FILE={cafile} does not exist in the image")
    for directory in (env.get("SSL_CERT_DIR") or f"{ssldir}/certs").split(":"):
        if directory:
            _load_hashed_dir(tree, norm(directory), store, configured=bool(env.get("SSL_CERT_DIR")))
    if env.get("SSL_CERT_FILE") and not env.get("SSL_CERT_DIR"):
        store.notes.append("SSL_CERT_FILE replaces only the default file: the default directory "
                           f"{ssldir}/certs is still trusted")
    store.details["openssl_dir"] = ssldir
    return _dedupe(store)


# ---------------------------------------------------------------------------------------------
# Go

def go_binaries(tree: FileView, env: Mapping[str, str], limit: int | None = None) -> list[str]:
    """Executables that carry Go build info, in the usual app locations (never the whole tree).
    Their contents are seldom kept, so the view looks into them on demand."""
    facts = runtime_facts()
    candidates = []
    for directory in facts.go_app_dirs:
        for name in tree.listdir(directory)[:facts.go_max_entries_per_dir]:
            path = norm(f"{directory}/{name}")
            info = tree.info(path, follow=False)
            if info is None or info.kind != "file" or not info.mode & 0o111 or info.size < facts.go_min_size:
                continue
            candidates.append(path)
    found = sorted(tree.files_containing(candidates, GO_BUILDINFO)) if candidates else []
    return found[:limit] if limit else found


def go_present(tree: FileView, env: Mapping[str, str]) -> bool:
    if any(k in env for k in ("GOLANG_VERSION", "GOROOT", "GOPATH")) or _exists(tree, "/usr/local/go/bin/go") \
            or _which(tree, env, "go"):
        return True
    return bool(go_binaries(tree, env, limit=1))


def go_store(tree: FileView, env: Mapping[str, str]) -> TrustStore:
    store = TrustStore("go", "go crypto/x509")
    files = [env["SSL_CERT_FILE"]] if env.get("SSL_CERT_FILE") else list(runtime_facts().go_cert_files)
    for path in files:
        if _load_file(tree, path, store):
            break  # first readable file wins
    dirs = env["SSL_CERT_DIR"].split(":") if env.get("SSL_CERT_DIR") else list(runtime_facts().go_cert_dirs)
    for directory in dirs:
        directory = norm(directory) if directory else ""
        if not directory:
            continue
        before = len(store.certificates)
        for name in tree.listdir(directory):
            path = f"{directory}/{name}"
            info = tree.info(path, follow=False)
            if info is not None and info.kind == "symlink":
                # Go skips links that point inside the same directory (they duplicate a file there).
                target = info.link_target or ""
                if "/" not in target or norm(f"{directory}/{target}").rsplit("/", 1)[0] == directory:
                    continue
            data = tree.read(path)
            if data and b"-----BEGIN" in data:  # AppendCertsFromPEM: PEM only, DER silently ignored
                store.certificates.extend(load_certificates(data, path).certificates)
        if len(store.certificates) > before:
            store.sources.append(f"{directory}/*")
    if env.get("SSL_CERT_FILE"):
        store.notes.append("SSL_CERT_FILE replaces Go's whole file list")
    if not store.certificates:
        store.notes.append("x509: failed to load system roots and no roots provided")
    return _dedupe(store)


# ---------------------------------------------------------------------------------------------
# Java


def java_homes(tree: FileView, env: Mapping[str, str]) -> list[str]:
    candidates = []
    if env.get("JAVA_HOME"):
        candidates.append(norm(env["JAVA_HOME"]))
    candidates.extend(runtime_facts().java_homes)
    for parent in runtime_facts().java_parents:
        for name in tree.listdir(parent):
            if parent == "/usr/lib/jvm" or any(k in name.lower() for k in runtime_facts().java_name_markers):
                candidates.append(f"{parent}/{name}")
    homes: dict[str, str] = {}
    for home in candidates:
        if not (_exists(tree, f"{home}/bin/java") or _exists(tree, f"{home}/release")
                or _exists(tree, f"{home}/lib/security/cacerts") or _exists(tree, f"{home}/jre/lib/security/cacerts")):
            continue
        real = tree.realpath(home) or home
        homes.setdefault(real, home)  # /usr/lib/jvm/default-java and its target are one JVM
    return sorted(homes.values())


def java_options(env: Mapping[str, str]) -> dict[str, str]:
    """-D properties from the variables a JVM (or its start script) reads; later ones win."""
    props: dict[str, str] = {}
    for variable in ("JAVA_TOOL_OPTIONS", "JDK_JAVA_OPTIONS", "JAVA_OPTS"):
        try:
            words = shlex.split(env.get(variable, ""))
        except ValueError:
            words = env.get(variable, "").split()
        for word in words:
            if word.startswith("-D") and "=" in word:
                key, _, value = word[2:].partition("=")
                props[key] = value
    return props




def _temurin_system_ca(tree: FileView, env: Mapping[str, str], store: TrustStore, family: str | None,
                       entrypoint: list[str] | None) -> None:
    """eclipse-temurin's USE_SYSTEM_CA_CERTS (adoptium/containers entrypoint.sh): at container start its entrypoint imports the OS
    store and /certificates/*crt into the JVM's store. Only when that entrypoint actually runs."""
    if not env.get("USE_SYSTEM_CA_CERTS") or not _exists(tree, runtime_facts().temurin_entrypoint):
        return
    if entrypoint is not None and runtime_facts().temurin_entrypoint not in " ".join(entrypoint):
        store.notes.append(f"USE_SYSTEM_CA_CERTS is set but the ENTRYPOINT does not run {runtime_facts().temurin_entrypoint}: "
                           "no effect")
        return
    system = system_bundle(family)
    before = len(store.certificates)
    _load_file(tree, system, store)
    for name in tree.listdir("/certificates"):
        if name.endswith("crt"):
            _load_file(tree, f"/certificates/{name}", store)
    store.notes.append(f"USE_SYSTEM_CA_CERTS: at container start {runtime_facts().temurin_entrypoint} adds the OS store and "
                       f"/certificates/*crt ({len(store.certificates) - before} certificates in the image) to this "
                       "JVM's store; RUN steps do not see them")


def java_store(tree: FileView, env: Mapping[str, str], home: str, family: str | None = None,
               entrypoint: list[str] | None = None) -> TrustStore:
    """trustStore property > jssecacerts > cacerts (JSSE Reference Guide, "Customizing the Default Key and
    Trust Stores"; observed with OpenJDK 17.0.15)."""
    store = TrustStore("java", f"java {home}")
    props = java_options(env)
    store.details["java_home"] = home
    password = props.get("javax.net.ssl.trustStorePassword")
    passwords = (password.encode(),) if password else (None, b"changeit", b"")
    if props.get("javax.net.ssl.trustStore"):
        path = props["javax.net.ssl.trustStore"]
        store.details["configured_by"] = "javax.net.ssl.trustStore"
        data = tree.read(path)
        if data is None:
            store.notes.append(f"-Djavax.net.ssl.trustStore={path} does not exist: every handshake fails "
                               "with PKIX path building failed (the JVM does not report the missing file)")
            return store
        loaded, problem = load_java_trust_store(data, password.encode() if password else None, path)
        store.sources.append(path)
        store.certificates.extend(loaded.certificates)
        store.notes.append("javax.net.ssl.trustStore replaces cacerts")
        if problem:
            store.details["java_store_error"] = problem
            store.notes.append({
                "empty": f"{path} {BROKEN_JAVA_STORE['empty']}: the JVM cannot open it",
                "truncated": f"{path} {BROKEN_JAVA_STORE['truncated']}: the JVM cannot open it",
                "wrong-password": f"javax.net.ssl.trustStorePassword does not open {path}",
                "not-a-keystore": f"{path} is not a keystore (JKS/PKCS12): the JVM cannot use a PEM file here",
                "no-anchors": f"{path} yields no trusted certificate with the password given "
                              "(a password-protected PKCS12 needs javax.net.ssl.trustStorePassword)",
            }[problem])
        return _dedupe(store)
    for security in (f"{home}/lib/security", f"{home}/jre/lib/security"):
        if _load_java_file(tree, f"{security}/jssecacerts", store, passwords):
            store.notes.append(f"{security}/jssecacerts exists and shadows cacerts")
            store.details["configured_by"] = "jssecacerts"
            return _dedupe(store)
    for security in (f"{home}/jre/lib/security", f"{home}/lib/security"):
        path = f"{security}/cacerts"
        if _load_java_file(tree, path, store, passwords):
            real = tree.realpath(path)
            if real and real != path:
                store.sources[-1] = f"{path} -> {real}"
            store.details["configured_by"] = "cacerts"
            break
    _temurin_system_ca(tree, env, store, family, entrypoint)
    return _dedupe(store)


# ---------------------------------------------------------------------------------------------
# Python requests


def python_site_dirs(tree: FileView, env: Mapping[str, str]) -> list[str]:
    roots = list(runtime_facts().python_site_roots)
    if env.get("VIRTUAL_ENV"):
        roots.insert(0, norm(env["VIRTUAL_ENV"]) + "/lib")
    for directory in _path_dirs(env):
        if directory.endswith("/bin"):
            roots.append(directory[:-4] + "/lib")
    found = []
    for root in dict.fromkeys(roots):
        for name in tree.listdir(root):
            if re.match(r"^python3(\.\d+)?$", name):
                for sub in ("site-packages", "dist-packages"):
                    if tree.info(f"{root}/{name}/{sub}/requests") is not None:
                        found.append(f"{root}/{name}/{sub}")
    distro = runtime_facts().python_distro_site
    if tree.info(f"{distro}/requests") is not None:
        found.append(distro)
    return list(dict.fromkeys(found))


def _python_version(site: str) -> str | None:
    match = re.search(r"python(3\.\d+)", site)
    return match.group(1) if match else None


def requests_store(tree: FileView, env: Mapping[str, str], site: str, family: str | None) -> TrustStore:
    """REQUESTS_CA_BUNDLE > CURL_CA_BUNDLE > certifi; requests ignores SSL_CERT_FILE
    (requests sessions.py merge_environment_settings and certs.py, 2.34.2)."""
    store = TrustStore("python-requests", f"python-requests {site}")
    store.details["python_version"] = _python_version(site)
    version_py = tree.read(f"{site}/urllib3/_version.py") or b""
    match = re.search(rb"__version__\s*=\s*(?:version\s*=\s*)?['\"]([^'\"]+)['\"]", version_py)
    if match:
        store.details["urllib3_version"] = match.group(1).decode()
    for variable in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        if env.get(variable):
            path = env[variable]
            store.details["configured_by"] = variable
            if tree.info(path) is not None and tree.info(path).kind == "dir":
                _load_hashed_dir(tree, norm(path), store, configured=True)
            elif not _load_file(tree, path, store):
                store.notes.append(f"{variable}={path} does not exist: requests raises OSError "
                                   "(Could not find a suitable TLS CA certificate bundle)")
            store.notes.append(f"{variable} replaces certifi's roots")
            return _dedupe(store)
    bundle = _certifi_bundle(tree, site, family)
    store.details["configured_by"] = "certifi"
    if bundle is None or not _load_file(tree, bundle, store):
        store.notes.append("no certifi bundle found next to requests")
    if env.get("SSL_CERT_FILE"):
        store.notes.append("SSL_CERT_FILE is set but requests ignores it (use REQUESTS_CA_BUNDLE)")
    return _dedupe(store)


def _certifi_bundle(tree: FileView, site: str, family: str | None) -> str | None:
    # Fedora/RHEL patch requests/certs.py to return the system bundle (Fedora python-requests system-certs patch).
    certs_py = tree.read(f"{site}/requests/certs.py") or b""
    for literal in re.findall(rb"['\"](/etc/[^'\"]+\.(?:pem|crt))['\"]", certs_py):
        return literal.decode()
    core = tree.read(f"{site}/certifi/core.py") or b""
    for literal in re.findall(rb"['\"](/etc/ssl/certs/[^'\"]+)['\"]", core):
        return literal.decode()  # Debian's python3-certifi points at the system bundle
    if _exists(tree, f"{site}/certifi/cacert.pem"):
        return f"{site}/certifi/cacert.pem"
    if site == runtime_facts().python_distro_site and _exists(tree, f"{site}/certifi"):
        return system_bundle(family)
    vendored = f"{site}/pip/_vendor/certifi/cacert.pem"
    return vendored if _exists(tree, vendored) else None


# ---------------------------------------------------------------------------------------------
# Node


def node_binaries(tree: FileView, env: Mapping[str, str]) -> list[str]:
    found = {}
    for path in [_which(tree, env, "node") or "", *runtime_facts().node_binaries]:
        if path and (info := tree.info(path)) is not None and info.kind == "file":
            found.setdefault(tree.realpath(path) or path, path)
    return sorted(found.values())


def node_flags(env: Mapping[str, str], entrypoint: list[str] | None = None) -> set[str]:
    words = (env.get("NODE_OPTIONS", "") + " " + " ".join(entrypoint or [])).split()
    flags = {w for w in words if w in ("--use-openssl-ca", "--use-system-ca", "--use-bundled-ca")}
    if env.get("NODE_USE_SYSTEM_CA") == "1":
        flags.add("--use-system-ca")
    return flags


def _node_version(env: Mapping[str, str]) -> tuple[int, ...] | None:
    match = re.match(r"v?(\d+)\.(\d+)", env.get("NODE_VERSION", ""))
    return tuple(int(x) for x in match.groups()) if match else None


def _embedded(tree: FileView, path: str) -> bytes | None:
    try:
        return tree.embedded_certificates(path)
    except (ImportError, NotImplementedError, OSError):
        return None


def _node_bundled_roots(tree: FileView, binary: str) -> tuple[str, bytes | None]:
    """Static builds carry the roots in the executable; distro builds (Debian's nodejs) in libnode.so."""
    bundled = _embedded(tree, binary)
    if bundled:
        return binary, bundled
    for directory in runtime_facts().node_lib_dirs:
        for name in tree.listdir(directory):
            if name.startswith("libnode.so"):
                path = f"{directory}/{name}"
                info = tree.info(path, follow=False)
                if info is None or info.kind != "file":
                    continue
                found = _embedded(tree, path)
                if found:
                    return path, found
    return binary, None


def _is_shared_node(tree: FileView, binary: str) -> bool:
    """A distro build: a small launcher linked against libnode.so."""
    if binary.startswith(("/usr/local/", "/opt/")):
        return False
    return any(name.startswith("libnode.so") for d in runtime_facts().node_lib_dirs for name in tree.listdir(d))


def node_store(tree: FileView, env: Mapping[str, str], binary: str, family: str | None,
               entrypoint: list[str] | None = None) -> TrustStore:
    """Bundled roots (or OpenSSL's with --use-openssl-ca) + system (--use-system-ca) + NODE_EXTRA_CA_CERTS."""
    store = TrustStore("node", f"node {binary}")
    flags = node_flags(env, entrypoint)
    version = _node_version(env)
    if named_family(family).lineage == "debian" and _is_shared_node(tree, binary) and "--use-bundled-ca" not in flags:
        # Observed (bookworm nodejs 18.20.4): Debian's package defaults to the OpenSSL store, as if
        # --use-openssl-ca were given; only --use-bundled-ca brings back the compiled-in roots.
        flags.add("--use-openssl-ca")
        store.notes.append("Debian's nodejs package uses the system OpenSSL store by default "
                           "(not its bundled roots; --use-bundled-ca switches back)")
    store.details["flags"] = sorted(flags)
    store.details["node_version"] = env.get("NODE_VERSION")
    # Official builds link OpenSSL statically with OPENSSLDIR=/etc/ssl (observed with Node v20.20.2); distro builds use the OS one.
    official = binary.startswith(("/usr/local/", "/opt/"))
    ssldir = runtime_facts().node_official_openssl_dir if official else openssl_dir(tree, family)
    if "--use-openssl-ca" in flags:
        system = openssl_store(tree, env, family, ssldir, name="node --use-openssl-ca")
        store.certificates.extend(system.certificates)
        store.sources.extend(system.sources)
        store.notes.append(f"--use-openssl-ca: OpenSSL store under {ssldir} instead of the bundled roots")
    else:
        holder, bundled = _node_bundled_roots(tree, binary)
        if bundled:
            store.certificates.extend(load_certificates(bundled, f"{holder} (bundled roots)").certificates)
            store.sources.append(f"{holder} (bundled roots)")
        else:
            store.notes.append(f"could not read the roots compiled into {binary}")
        if "--use-system-ca" in flags:
            if version is not None and version < (22, 19):
                # Observed on Node 20: the flag in NODE_OPTIONS stops node from starting (exit 9);
                # NODE_USE_SYSTEM_CA=1 is silently ignored.
                if "--use-system-ca" in env.get("NODE_OPTIONS", "").split():
                    store.details["startup_error"] = "node: --use-system-ca is not allowed in NODE_OPTIONS"
                elif "--use-system-ca" in " ".join(entrypoint or []).split():
                    store.details["startup_error"] = "node: bad option: --use-system-ca"
                store.notes.append(f"--use-system-ca/NODE_USE_SYSTEM_CA needs Node >= 22.19 (or 23.9); "
                                   f"NODE_VERSION={env.get('NODE_VERSION')} "
                                   + ("refuses to start" if store.details.get("startup_error") else "ignores it"))
            else:
                system = openssl_store(tree, env, family, ssldir, name="node --use-system-ca")
                store.certificates.extend(system.certificates)
                store.sources.extend(system.sources)
    extra = env.get("NODE_EXTRA_CA_CERTS")
    if extra:
        data = tree.read(extra)
        if data is None:
            store.notes.append(f"Warning: Ignoring extra certs from `{extra}`, load failed: "
                               "error:80000002:system library::No such file or directory")
        elif b"-----BEGIN" not in data:
            store.notes.append(f"NODE_EXTRA_CA_CERTS={extra} is not PEM: node ignores it silently")
        else:
            store.certificates.extend(load_certificates(data, extra).certificates)
            store.sources.append(f"{extra} (NODE_EXTRA_CA_CERTS)")
    return _dedupe(store)


# ---------------------------------------------------------------------------------------------


def _static_entrypoint(tree: FileView, env: Mapping[str, str], entrypoint: list[str] | None) -> str | None:
    """The program a scratch/distroless image runs, when nothing else in it speaks TLS."""
    if not entrypoint:
        return None
    program = entrypoint[0]
    path = program if program.startswith("/") else _which(tree, env, program)
    info = tree.info(path) if path else None
    return path if info is not None and info.kind == "file" else None


def discover(tree: FileView, env: Mapping[str, str], family: str | None = None,
             only: list[str] | None = None, entrypoint: list[str] | None = None) -> list[TrustStore]:
    """Every runtime present (or only those asked for) with its effective store."""
    family = family or family_of_filesystem(tree)[0]
    wanted = set(only or RUNTIMES)
    stores: list[TrustStore] = []
    forced = only is not None
    if "openssl" in wanted and (forced or openssl_present(tree, env)):
        stores.append(openssl_store(tree, env, family))
    homes = java_homes(tree, env) if "java" in wanted else []
    sites = python_site_dirs(tree, env) if "python-requests" in wanted else []
    nodes = node_binaries(tree, env) if "node" in wanted else []
    static_app = _static_entrypoint(tree, env, entrypoint) if not (stores or homes or sites or nodes) else None
    if "go" in wanted and (forced or go_present(tree, env) or static_app):
        go = go_store(tree, env)
        if static_app and not go_present(tree, env):
            go.notes.append(f"assumed Go: {static_app} runs without libssl, Java, Node or Python "
                            "(statically linked programs read Go's file list)")
        stores.append(go)
    for home in homes:
        stores.append(java_store(tree, env, home, family, entrypoint))
    for site in sites:
        stores.append(requests_store(tree, env, site, family))
    for binary in nodes:
        stores.append(node_store(tree, env, binary, family, entrypoint))
    for store in stores:
        store.details.setdefault("family", family)
    return stores
