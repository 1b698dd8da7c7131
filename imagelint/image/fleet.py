"""Every image of a registry, once per digest: the list a fleet scan works through.

The catalog and each repository's tags come from the OCI distribution API (paginated). Each tag
is resolved to its manifest digest, so tags naming one image are scanned once; a multi-platform
index fans out to its platforms (`platform="all"`) or to one. `in_shard` partitions the list by
digest, so N workers that never talk to each other cover the fleet exactly once.
"""
from __future__ import annotations

import fnmatch
import hashlib
import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from ..findings import ImagelintError
from .limits import DEFAULT_LIMITS
from .model import INDEX_TYPES, manifest_kind, parse_platform
from .sources.remote import RegistryClient, RegistryOptions


@dataclass
class FleetImage:
    registry: str
    repository: str
    digest: str  # the manifest scanned (a platform's, for a fanned-out index)
    tags: list[str] = field(default_factory=list)
    platform: str | None = None
    index_digest: str | None = None  # the index the platform came from

    @property
    def reference(self) -> str:
        return f"docker://{self.registry}/{self.repository}@{self.digest}"

    @property
    def label(self) -> str:
        shown = ",".join(self.tags[:3]) + ("…" if len(self.tags) > 3 else "")
        return f"{self.registry}/{self.repository}:{shown}" + (f" ({self.platform})" if self.platform else "")


def parse_shard(text: str) -> tuple[int, int]:
    """'I/N' (1-based) -> (I, N)."""
    try:
        index, count = (int(x) for x in text.split("/", 1))
    except ValueError:
        raise ImagelintError(f"--shard {text!r}: use I/N, e.g. 2/3") from None
    if count < 1 or not 1 <= index <= count:
        raise ImagelintError(f"--shard {text!r}: I must be between 1 and N")
    return index, count


def in_shard(digest: str, index: int, count: int) -> bool:
    """Stable partition by digest: the same image lands in the same shard on every run and machine."""
    value = int(hashlib.sha256(digest.encode()).hexdigest()[:16], 16)
    return value % count == index - 1


def list_fleet(registry: str, *, repo_glob: str = "*", tag_glob: str = "*", platform: str | None = None,
               options: RegistryOptions | None = None, clients: dict | None = None,
               workers: int = 8) -> list[FleetImage]:
    """Every distinct image (by digest) of the registry's repositories and tags matching the globs.
    Tags are resolved several at a time; `clients` keeps the client for the scans that follow."""
    options = options or RegistryOptions()
    client = (clients or {}).get((registry, options)) or RegistryClient(registry, options)
    if clients is not None:
        clients[(registry, options)] = client
    repositories = [r for r in sorted(client.catalog()) if fnmatch.fnmatchcase(r, repo_glob)]
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="imagelint-fleet") as pool:
        tag_lists = list(pool.map(client.tags, repositories))
        wanted = [(repository, tag) for repository, tags in zip(repositories, tag_lists)
                  for tag in sorted(tags) if fnmatch.fnmatchcase(tag, tag_glob)]
        manifests = list(pool.map(lambda item: client.manifest(item[0], item[1], DEFAULT_LIMITS), wanted))
    by_digest: dict[str, FleetImage] = {}
    for (repository, tag), (body, media_type, digest) in zip(wanted, manifests):
        for image in _images_of(client, repository, body, media_type, digest, platform):
            found = by_digest.setdefault(f"{repository}@{image.digest}", image)
            if tag not in found.tags:
                found.tags.append(tag)
    if clients is None:
        client.session.close()
    return sorted(by_digest.values(), key=lambda i: (i.repository, i.digest))


def _images_of(client, repository: str, body: bytes, media_type: str, digest: str,
               platform: str | None) -> list[FleetImage]:
    try:
        document = json.loads(body)
    except ValueError:
        raise ImagelintError(f"{client.host}/{repository}@{digest}: manifest is not JSON") from None
    if not isinstance(document, dict) or manifest_kind(document, media_type or None) != "index":
        return [FleetImage(client.host, repository, digest)]
    wanted = None if platform in (None, "all") else parse_platform(platform)
    images = []
    for descriptor in document.get("manifests") or []:
        if not isinstance(descriptor, dict) or descriptor.get("mediaType") in INDEX_TYPES:
            continue
        plat = descriptor.get("platform") if isinstance(descriptor.get("platform"), dict) else {}
        os_name, arch = str(plat.get("os", "")).lower(), str(plat.get("architecture", "")).lower()
        variant = str(plat.get("variant", "")).lower()
        if os_name == "unknown" or not isinstance(descriptor.get("digest"), str):
            continue  # attestation manifests
        if wanted is not None and (os_name, arch) != wanted[:2]:
            continue
        shown = "/".join(p for p in (os_name, arch, variant) if p)
        images.append(FleetImage(client.host, repository, descriptor["digest"], platform=shown, index_digest=digest))
    if platform is None and len(images) > 1:
        # one platform per index unless asked for all: this machine's, as a single scan would choose
        from .model import host_platform_string

        host = parse_platform(host_platform_string())
        images = [i for i in images if tuple(i.platform.split("/")[:2]) == host[:2]][:1] or images[:1]
    return images
