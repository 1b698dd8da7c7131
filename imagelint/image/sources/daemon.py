"""The local Docker engine: `docker save` spooled to an unlinked temp file, read as a docker-archive."""
from __future__ import annotations

import os
import tempfile

from ...findings import ImagelintError
from ..limits import Limits
from ..model import OpenedImage
from .blobs import TarStore
from .tarball import read_docker_archive


def _docker_client(timeout: float = 60):
    try:
        import docker  # heavy: only the daemon source needs it
    except ImportError:
        raise ImagelintError("the docker Python package is needed to read from the Docker engine "
                             "(pip install docker)") from None
    try:
        return docker.from_env(timeout=timeout)
    except docker.errors.DockerException as exc:
        where = os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
        raise ImagelintError(f"no Docker engine at {where} ({_engine_reason(exc)}); start it, set DOCKER_HOST, "
                             "or read the image without one: docker-archive:PATH, oci:DIR or docker://REF") from None


def _engine_reason(exc: BaseException) -> str:
    """Why the engine did not answer, in words, not the Python exception chain the SDK wraps."""
    seen: list[BaseException] = []
    todo: list[object] = [exc]
    while todo and len(seen) < 20:
        item = todo.pop(0)
        if not isinstance(item, BaseException) or item in seen:
            continue
        seen.append(item)
        todo.extend([item.__cause__, item.__context__, *item.args])
    for item in seen:
        if isinstance(item, FileNotFoundError):
            return "no socket there"
        if isinstance(item, PermissionError):
            return "permission denied on the socket: is this user in the docker group?"
        if isinstance(item, ConnectionRefusedError):
            return "connection refused"
        if isinstance(item, TimeoutError):
            return "no answer in time"
    text = " ".join(str(exc).split())
    if "Connection aborted" in text or "Connection refused" in text:
        return "connection refused"
    return text[:120] or exc.__class__.__name__


def _short(exc: Exception) -> str:
    return str(exc).splitlines()[0][:200] if str(exc) else exc.__class__.__name__


def engine_reachable() -> bool:
    """True when a Docker engine answers (DOCKER_HOST or the default socket), within 2 seconds."""
    if not os.environ.get("DOCKER_HOST") and not os.path.exists("/var/run/docker.sock"):
        return False
    try:
        client = _docker_client(timeout=2)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:  # any failure just means "not reachable": fall back to the registry
        return False


def open_daemon_image(name: str, reference: str, platform: str | None, limits: Limits,
                      missing_ok: bool = False) -> OpenedImage | None:
    """`docker save` through the SDK, spooled into an anonymous temp file, read as a docker-archive."""
    import docker

    client = _docker_client()
    try:
        try:
            image = client.images.get(name)
        except docker.errors.ImageNotFound:
            if missing_ok:
                return None
            raise ImagelintError(f"image {name!r} not found in the Docker engine") from None
        except docker.errors.APIError as exc:
            raise ImagelintError(f"Docker engine error for {name!r}: {_short(exc)}") from None
        # TemporaryFile is unlinked at once: nothing stays on disk, even if we are killed.
        spool = tempfile.TemporaryFile(prefix="imagelint-save-")
        try:
            for chunk in image.save(named=False):
                spool.write(chunk)
            spool.flush()
            spool.seek(0)
            store = TarStore(f"docker-daemon:{name}", fileobj=spool)
            opened = read_docker_archive(store, None, reference, platform, limits)
        except docker.errors.APIError as exc:
            spool.close()
            raise ImagelintError(f"Docker engine error saving {name!r}: {_short(exc)}") from None
        except BaseException:
            spool.close()
            raise
        opened._closers.append(spool.close)
        opened.source = "docker-daemon"
        return opened
    finally:
        client.close()
