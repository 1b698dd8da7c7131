"""Real services for tests: a private dockerd, loopback registries and Debian root filesystems.

Every service runs on loopback (or a unix socket in a private temp dir), is started by the
fixture that needs it and is stopped by the PID we started, never by name. Nothing here
touches the host's docker, network or trust configuration.

Fixtures (session scope): ``dockerd``, ``registry_factory``, ``debian_rootfs``, ``java_rootfs``.
Helpers: ``require``, ``require_root``, ``build_rootfs``, ``make_oci_layout``, ``clean_env``.
"""

from __future__ import annotations

import contextlib
import datetime
import fcntl
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import pytest

# When any of these is set, a missing tool is a broken setup, not a reason to skip.
_MUST_RUN_FLAGS = (("CI", "true"), ("IMAGELINT_E2E", "1"), ("IMAGELINT_SERVICES", "1"))

# Variables this machine presets that change which CAs a client trusts.
CA_ENV_VARS = (
    "SSL_CERT_FILE", "SSL_CERT_DIR", "CURL_CA_BUNDLE", "REQUESTS_CA_BUNDLE", "NODE_EXTRA_CA_CERTS",
    "GIT_SSL_CAINFO", "PIP_CERT", "AWS_CA_BUNDLE", "NIX_SSL_CERT_FILE", "HTTPLIB2_CA_CERTS",
    "GRPC_DEFAULT_SSL_ROOTS_FILE_PATH", "CLOUDSDK_CORE_CUSTOM_CA_CERTS_FILE",
)

SERVICE_FIXTURES = frozenset({"dockerd", "registry_factory", "debian_rootfs", "java_rootfs", "clients_rootfs"})


def services_must_run() -> bool:
    return any(os.environ.get(name, "").lower() == value for name, value in _MUST_RUN_FLAGS)


def _skip_or_fail(reason: str) -> None:
    if services_must_run():
        pytest.fail(f"{reason} (CI/IMAGELINT_E2E/IMAGELINT_SERVICES set: run scripts/install-test-deps.sh)",
                    pytrace=False)
    pytest.skip(reason)


def require(*commands: str) -> None:
    """Skip the test when a binary is missing, but fail loudly where service tests must run."""
    missing = [cmd for cmd in commands if shutil.which(cmd) is None]
    if missing:
        _skip_or_fail(f"missing {', '.join(missing)}")


def require_root() -> None:
    if os.geteuid() != 0:
        _skip_or_fail("needs root")


def clean_env(**extra: str) -> dict[str, str]:
    """The current environment without the preset CA variables, so trust comes only from what a test passes."""
    env = {k: v for k, v in os.environ.items() if k not in CA_ENV_VARS}
    env.update(extra)
    return env


def _run(cmd: list[str], **kwargs) -> subprocess.CompletedProcess:
    kwargs.setdefault("capture_output", True)
    kwargs.setdefault("text", True)
    return subprocess.run(cmd, **kwargs)


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _stop_pid(proc: subprocess.Popen | None, pid: int | None = None, grace: float = 20.0) -> None:
    """SIGTERM, wait, then SIGKILL one process we started (by its PID)."""
    if proc is not None:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(grace)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        return
    if pid is None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            os.kill(pid, 0)  # raises ProcessLookupError once it is gone
            time.sleep(0.1)
        os.kill(pid, signal.SIGKILL)


def _unmount_under(root: Path) -> None:
    """Lazily unmount every mount at or below root, deepest first (overlay, shm, netns leftovers)."""
    prefix = str(root).rstrip("/") + "/"
    mountpoints = []
    with open("/proc/mounts") as mounts:
        for line in mounts:
            # /proc/mounts escapes space, tab, newline and backslash as octal.
            point = line.split()[1].encode().decode("unicode_escape")
            if point == prefix[:-1] or point.startswith(prefix):
                mountpoints.append(point)
    for point in sorted(mountpoints, key=lambda p: p.count("/"), reverse=True):
        _run(["umount", "-l", point])


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for(check: Callable[[], bool], proc: subprocess.Popen, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        if check():
            return True
        time.sleep(0.05)
    return False


# --------------------------------------------------------------------------- dockerd

def _docker_ping(sock_path: Path) -> bool:
    try:
        with socket.socket(socket.AF_UNIX) as sock:
            sock.settimeout(2)
            sock.connect(str(sock_path))
            sock.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
            return sock.recv(64).split(b"\r\n", 1)[0].split()[1:2] == [b"200"]
    except OSError:
        return False


@dataclass
class Dockerd:
    root: Path
    storage_driver: str
    proc: subprocess.Popen
    host: str = ""
    env: dict[str, str] = field(default_factory=dict)

    def docker(self, *args: str, check: bool = True, input: str | bytes | None = None,
               env: dict[str, str] | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
        """Run the docker CLI against this engine; text output unless input is bytes."""
        result = subprocess.run(
            ["docker", *args], env={**self.env, **(env or {})}, input=input, capture_output=True,
            text=not isinstance(input, bytes), timeout=timeout,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"docker {' '.join(args)} exited {result.returncode}:\n{result.stderr}")
        return result

    def import_rootfs(self, tar_path: Path | str, tag: str) -> str:
        """`docker import` a root filesystem tar (e.g. from debian_rootfs) as a one-layer image."""
        self.docker("import", str(tar_path), tag)
        return tag

    def build(self, context: Path | str, tag: str, *args: str) -> subprocess.CompletedProcess:
        """`docker build` on host network: with --bridge=none there is no default network for RUN."""
        env = {}
        if _run(["docker", "buildx", "version"], env=self.env).returncode != 0:
            env["DOCKER_BUILDKIT"] = "0"  # the v28 CLI needs buildx for BuildKit; the legacy builder still works
        return self.docker("build", "--network", "host", "-t", tag, *args, str(context), env=env)

    def client(self):
        import docker  # heavy; only for tests that want the SDK

        return docker.DockerClient(base_url=self.host)

    @property
    def log(self) -> str:
        return _tail(self.root / "dockerd.log")


def _start_dockerd(root: Path, storage_driver: str) -> Dockerd:
    for sub in ("data", "exec", "cli"):
        (root / sub).mkdir(exist_ok=True)
    sock = root / "docker.sock"
    # containerd namespaces must match ^[A-Za-z0-9]+([._-][A-Za-z0-9]+)*$; mkdtemp names may end in "_".
    namespace = "ild" + "".join(ch for ch in root.name if ch.isalnum())
    cmd = [
        "dockerd", f"--storage-driver={storage_driver}", "--iptables=false", "--bridge=none",
        "--ip-forward=false", "--data-root", str(root / "data"), "--exec-root", str(root / "exec"),
        "--host", f"unix://{sock}", "--pidfile", str(root / "dockerd.pid"),
        # If a system containerd is running, dockerd shares it: keep our containers apart from anyone else's.
        f"--containerd-namespace={namespace}", f"--containerd-plugins-namespace={namespace}-plugins",
    ]
    with open(root / "dockerd.log", "ab") as log:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
    engine = Dockerd(root=root, storage_driver=storage_driver, proc=proc, host=f"unix://{sock}")
    # Own CLI config dir so the host's ~/.docker (contexts, credentials) never leaks in.
    engine.env = {**os.environ, "DOCKER_HOST": engine.host, "DOCKER_CONFIG": str(root / "cli")}
    engine.env.pop("DOCKER_CONTEXT", None)
    _wait_for(lambda: _docker_ping(sock), proc, timeout=60)
    return engine


def _stop_dockerd(engine: Dockerd) -> None:
    containerd_pidfile = engine.root / "exec" / "containerd" / "containerd.pid"
    _stop_pid(engine.proc)
    # dockerd normally stops its own containerd; after a SIGKILL it may be left behind.
    with contextlib.suppress(OSError, ValueError):
        _stop_pid(None, int(containerd_pidfile.read_text().strip()), grace=5)


@contextlib.contextmanager
def running_dockerd() -> Iterator[Dockerd]:
    """A private Docker engine on a unix socket under /tmp/ild-XXXX (short: socket paths max 108 bytes).

    On exit: stop it by PID, unmount whatever it left mounted under its dir, remove the dir.
    """
    require("dockerd", "docker")
    require_root()
    root = Path(tempfile.mkdtemp(prefix="ild-", dir="/tmp"))
    engine = None
    log = ""
    try:
        forced = os.environ.get("IMAGELINT_DOCKER_STORAGE_DRIVER")
        drivers = [forced] if forced else ["overlay2", "vfs"]
        for driver in drivers:
            engine = _start_dockerd(root, driver)
            if engine.proc.poll() is None and _docker_ping(root / "docker.sock"):
                break
            # overlay2 is refused on some kernels/filesystems: start over with vfs.
            log = engine.log
            _stop_dockerd(engine)
            _unmount_under(root)
            shutil.rmtree(root / "data", ignore_errors=True)
            shutil.rmtree(root / "exec", ignore_errors=True)
            engine = None
        if engine is None:
            pytest.fail(f"dockerd did not start ({', '.join(drivers)}); last log:\n{log}", pytrace=False)
        yield engine
    finally:
        if engine is not None:
            _stop_dockerd(engine)
        _unmount_under(root)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def dockerd() -> Iterator[Dockerd]:
    with running_dockerd() as engine:
        yield engine


# --------------------------------------------------------------------------- registry

@dataclass
class Registry:
    """A running `docker-registry serve` (distribution 2.8)."""

    url: str  # e.g. https://127.0.0.1:41234
    host_port: str  # e.g. 127.0.0.1:41234, the form docker/skopeo image names use
    port: int
    root: Path
    proc: subprocess.Popen
    ca_file: Path | None = None  # CA that signed the server cert, when the fixture made it
    users: dict[str, str] = field(default_factory=dict)
    storage: Path | None = None

    def stop(self) -> None:
        _stop_pid(self.proc, grace=10)

    @property
    def cert_dir(self) -> Path | None:
        """A directory holding ca.crt, the layout skopeo's --*-cert-dir and docker's certs.d expect."""
        if self.ca_file is None:
            return None
        cert_dir = self.root / "cert-dir"
        if not cert_dir.exists():
            cert_dir.mkdir()
            shutil.copy(self.ca_file, cert_dir / "ca.crt")
        return cert_dir

    @property
    def log(self) -> str:
        return _tail(self.root / "registry.log")


def _make_tls_pair(root: Path) -> tuple[Path, Path, Path]:
    import trustme  # only the TLS registries need it

    ca = trustme.CA()
    server = ca.issue_cert("127.0.0.1", "localhost")
    ca_file, cert, key = root / "ca.crt", root / "server.crt", root / "server.key"
    ca.cert_pem.write_to_path(str(ca_file))
    server.private_key_pem.write_to_path(str(key))
    # Leaf first, then the chain, as Go's tls.LoadX509KeyPair expects.
    cert.write_bytes(b"".join(blob.bytes() for blob in server.cert_chain_pems))
    return ca_file, cert, key


class RegistryFactory:
    """Starts registries on free loopback ports; every one is stopped at session end."""

    def __init__(self, base: Path):
        self.base = base
        self.started: list[Registry] = []

    def __call__(self, *, tls: bool = False, cert: Path | str | None = None, key: Path | str | None = None,
                 users: dict[str, str] | None = None, token: dict | None = None,
                 storage: Path | str | None = None, extra_config: dict | None = None) -> Registry:
        """Start one registry.

        tls=True makes a fresh CA and a 127.0.0.1/localhost certificate (see .ca_file); or pass cert/key.
        users={name: password} turns on htpasswd basic auth (bcrypt).
        token={realm, service, issuer, rootcertbundle} turns on token auth instead.
        storage lets several registries share one directory.
        """
        require("docker-registry")
        root = Path(tempfile.mkdtemp(prefix="registry-", dir=self.base))
        ca_file = None
        if tls and cert is None:
            ca_file, cert, key = _make_tls_pair(root)
        storage_dir = Path(storage) if storage else root / "storage"
        storage_dir.mkdir(parents=True, exist_ok=True)
        config: dict = {
            "version": 0.1,
            "log": {"level": "info", "accesslog": {"disabled": True}},
            "storage": {"filesystem": {"rootdirectory": str(storage_dir)}, "delete": {"enabled": True}},
            "http": {},
        }
        if cert is not None:
            config["http"]["tls"] = {"certificate": str(cert), "key": str(key)}
        if users:
            require("htpasswd")
            lines = []
            for name, password in users.items():
                lines.append(_run(["htpasswd", "-Bbn", name, password], check=True).stdout.strip())
            (root / "htpasswd").write_text("\n".join(lines) + "\n")
            config["auth"] = {"htpasswd": {"realm": "imagelint-test", "path": str(root / "htpasswd")}}
        if token:
            config["auth"] = {"token": dict(token)}
        config.update(extra_config or {})

        for _attempt in range(5):  # the free port can be taken between probe and bind
            port = _free_port()
            config["http"]["addr"] = f"127.0.0.1:{port}"
            # JSON is YAML: no YAML library needed.
            (root / "config.yml").write_text(json.dumps(config, indent=2))
            with open(root / "registry.log", "ab") as log:
                proc = subprocess.Popen(["docker-registry", "serve", str(root / "config.yml")],
                                        stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                        start_new_session=True)
            if _wait_for(lambda: _tcp_open(port), proc, timeout=20):
                scheme = "https" if cert is not None else "http"
                registry = Registry(url=f"{scheme}://127.0.0.1:{port}", host_port=f"127.0.0.1:{port}",
                                    port=port, root=root, proc=proc, ca_file=ca_file,
                                    users=dict(users or {}), storage=storage_dir)
                self.started.append(registry)
                return registry
            _stop_pid(proc, grace=5)
        pytest.fail(f"docker-registry did not start:\n{_tail(root / 'registry.log')}", pytrace=False)

    def stop_all(self) -> None:
        for registry in self.started:
            registry.stop()


def _tcp_open(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        return True
    return False


@pytest.fixture(scope="session")
def registry_factory(tmp_path_factory) -> Iterator[RegistryFactory]:
    factory = RegistryFactory(tmp_path_factory.mktemp("registries"))
    try:
        yield factory
    finally:
        factory.stop_all()


# --------------------------------------------------------------------------- Debian root filesystems

def apt_mirror(sources_dirs=("/etc/apt/sources.list.d",), sources_list="/etc/apt/sources.list") -> str | None:
    """The Debian archive this machine's apt uses: the first `URIs:` of a deb822 .sources file that
    lists the main suite (not -security), else the first `deb URL` line, as apt reads them."""
    for directory in sources_dirs:
        for path in sorted(Path(directory).glob("*.sources")) if Path(directory).is_dir() else []:
            for stanza in path.read_text(errors="replace").split("\n\n"):
                fields = {}
                for line in stanza.splitlines():
                    key, sep, value = line.partition(":")
                    if sep and not line.startswith(("#", " ")):
                        fields[key.strip().lower()] = value.strip()
                if "deb" not in fields.get("types", "").split() or "-security" in fields.get("uris", ""):
                    continue
                if fields.get("enabled", "yes").lower() == "no" or not fields.get("uris"):
                    continue
                return fields["uris"].split()[0]
    candidates = [Path(sources_list)] + [p for d in sources_dirs if Path(d).is_dir() for p in sorted(Path(d).glob("*.list"))]
    for path in candidates:
        if not path.is_file():
            continue
        for line in path.read_text(errors="replace").splitlines():
            words = line.split("#", 1)[0].split()
            if words and words[0] == "deb":
                rest = [w for w in words[1:] if not w.startswith("[")] if "]" not in line else line.split("]", 1)[1].split()
                if rest and "-security" not in rest[0]:
                    return rest[0]
    return None


DEBIAN_MIRROR = apt_mirror() or ""
_MMDEBSTRAP_BASE = [
    "--variant=minbase",
    "--aptopt=Acquire::Languages \"none\"",
    "--dpkgopt=path-exclude=/usr/share/doc/*",
    "--dpkgopt=path-exclude=/usr/share/man/*",
    "--dpkgopt=path-exclude=/usr/share/locale/*",
]
ROOTFS_RECIPES: dict[str, list[str]] = {
    "debian": [*_MMDEBSTRAP_BASE, "--include=ca-certificates"],
    # openjdk's postinst writes into the excluded man dir, so create it up front.
    "java": [*_MMDEBSTRAP_BASE, "--include=ca-certificates,openjdk-17-jre-headless,ca-certificates-java",
             "--essential-hook=mkdir -p \"$1/usr/share/man/man1\""],
    # The e2e "billing" clients: curl, Python requests and Node from Debian's own packages.
    "clients": [*_MMDEBSTRAP_BASE, "--include=ca-certificates,curl,python3,python3-requests,nodejs"],
}


def rootfs_cache_dir() -> Path:
    return Path(os.environ.get("IMAGELINT_TEST_CACHE", Path.home() / ".cache" / "imagelint-test"))


def build_rootfs(kind: str, suite: str = "bookworm") -> Path:
    """A mmdebstrap root filesystem tar, built once per ISO week and shared by every test process."""
    require("mmdebstrap")
    require_root()
    args = ROOTFS_RECIPES[kind]
    recipe_hash = hashlib.sha256(json.dumps([args, suite, DEBIAN_MIRROR]).encode()).hexdigest()[:8]
    year, week, _ = datetime.datetime.now(datetime.timezone.utc).isocalendar()
    cache = rootfs_cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    name = f"{kind}-{suite}-{recipe_hash}"
    target = cache / f"{name}-{year}W{week:02d}.tar"
    if target.exists():
        return target
    with open(cache / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another process may be building the same tar
        if target.exists():
            return target
        # mmdebstrap picks the output format from the extension, so the partial file ends in .tar too.
        partial = cache / f".partial-{os.getpid()}-{target.name}"
        log_path = cache / f"{name}.log"
        with open(log_path, "w") as log:
            result = subprocess.run(["mmdebstrap", *args, suite, str(partial), *([DEBIAN_MIRROR] if DEBIAN_MIRROR else [])],
                                    stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        if result.returncode != 0:
            partial.unlink(missing_ok=True)
            pytest.fail(f"mmdebstrap ({kind}) exited {result.returncode}:\n{_tail(log_path)}", pytrace=False)
        os.replace(partial, target)  # atomic: readers see either nothing or the whole tar
        for stale in cache.glob(f"{name}-*.tar"):
            if stale != target:
                stale.unlink(missing_ok=True)
    return target


@pytest.fixture(scope="session")
def debian_rootfs() -> Path:
    """Debian bookworm minbase + ca-certificates as a tar (entries ./etc/...), ~134 MB."""
    return build_rootfs("debian")


@pytest.fixture(scope="session")
def clients_rootfs() -> Path:
    """Debian bookworm minbase + ca-certificates, curl, python3-requests and nodejs (the e2e clients)."""
    return build_rootfs("clients")


@pytest.fixture(scope="session")
def java_rootfs() -> Path:
    """Debian bookworm minbase + openjdk-17-jre-headless + ca-certificates-java as a tar, ~349 MB."""
    return build_rootfs("java")


# --------------------------------------------------------------------------- OCI layouts

def make_oci_layout(rootfs_dir: Path | str, layout: Path | str, tag: str = "latest",
                    env: dict[str, str] | None = None) -> str:
    """Turn a directory into a one-layer OCI image with umoci; returns the 'LAYOUT:TAG' reference."""
    require("umoci")
    ref = f"{layout}:{tag}"
    if not Path(layout, "oci-layout").exists():
        _run(["umoci", "init", "--layout", str(layout)], check=True)
    _run(["umoci", "new", "--image", ref], check=True)
    _run(["umoci", "insert", "--image", ref, str(rootfs_dir), "/"], check=True)
    for name, value in (env or {}).items():
        _run(["umoci", "config", "--image", ref, f"--config.env={name}={value}"], check=True)
    return ref


# --------------------------------------------------------------------------- Prometheus

@dataclass
class Prometheus:
    """Debian's Prometheus scraping Debian's node_exporter, whose textfile collector reads `textfile_dir`."""

    url: str
    textfile_dir: Path

    def query(self, expression: str) -> list[dict]:
        import urllib.parse
        import urllib.request

        with urllib.request.urlopen(f"{self.url}/api/v1/query?query={urllib.parse.quote(expression)}",
                                    timeout=10) as response:
            return json.load(response)["data"]["result"]


@contextlib.contextmanager
def running_prometheus(root: Path, scrape_interval: str = "1s") -> Iterator[Prometheus]:
    require("prometheus", "prometheus-node-exporter")
    textfiles = root / "textfile"
    textfiles.mkdir(parents=True)
    exporter_port, prometheus_port = _free_port(), _free_port()
    exporter_log, prometheus_log = root / "node-exporter.log", root / "prometheus.log"
    exporter = subprocess.Popen(
        ["prometheus-node-exporter", f"--web.listen-address=127.0.0.1:{exporter_port}",
         "--collector.disable-defaults", "--collector.textfile", f"--collector.textfile.directory={textfiles}"],
        stdout=subprocess.DEVNULL, stderr=exporter_log.open("w"))
    (root / "prometheus.yml").write_text(
        f"global:\n  scrape_interval: {scrape_interval}\n  evaluation_interval: {scrape_interval}\n"
        f"scrape_configs:\n  - job_name: node\n    static_configs:\n      - targets: ['127.0.0.1:{exporter_port}']\n")
    server = subprocess.Popen(
        ["prometheus", f"--config.file={root / 'prometheus.yml'}", f"--storage.tsdb.path={root / 'data'}",
         f"--web.listen-address=127.0.0.1:{prometheus_port}"],
        stdout=subprocess.DEVNULL, stderr=prometheus_log.open("w"))
    try:
        if not _wait_for(lambda: _tcp_open(exporter_port), exporter, 30):
            pytest.fail(f"node_exporter did not start:\n{_tail(exporter_log)}")
        if not _wait_for(lambda: _tcp_open(prometheus_port), server, 60):
            pytest.fail(f"prometheus did not start:\n{_tail(prometheus_log)}")
        yield Prometheus(f"http://127.0.0.1:{prometheus_port}", textfiles)
    finally:
        _stop_pid(server)
        _stop_pid(exporter)
