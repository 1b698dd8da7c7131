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
        raise ImagelintError(f"cannot reach the Docker engine ({_short(exc)}); set DOCKER_HOST "
                             "or use docker-archive:/oci: references") from None


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
