"""Image references in the containers-image transport syntax that skopeo and podman use.

    docker-archive:PATH[:name:tag | :@N]   oci:DIR[:tag]   oci-archive:PATH[:tag]
    docker-daemon:name:tag                 docker://registry/repo:tag  or  ...@sha256:...
    name:tag (no transport)                the local engine when it has it, else the registry
    PATH (no transport, an existing file)  docker-archive (or oci-archive); a directory with oci-layout: oci
"""
from __future__ import annotations

import os
import re
from ..records import record

from ..findings import ImagelintError

DOCKER_HUB = "registry-1.docker.io"
_HUB_ALIASES = {"docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com"}
TRANSPORTS = ("docker-archive", "oci", "oci-archive", "docker-daemon", "docker")

_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_REPOSITORY = re.compile(rf"^{_COMPONENT}(?:/{_COMPONENT})*$")
_TAG = re.compile(r"^[\w][\w.-]{0,127}$")
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$|^sha512:[0-9a-f]{128}$")


@record(frozen=True)
class RegistryName:
    """A normalised registry image name: registry host, repository, tag and/or digest."""

    registry: str
    repository: str
    tag: str | None = None
    digest: str | None = None

    @property
    def reference(self) -> str:
        """What goes after /manifests/: the digest wins over the tag."""
        return self.digest or self.tag or "latest"

    @property
    def familiar(self) -> str:
        """As `docker` prints it: `alpine:latest`, `127.0.0.1:5000/x@sha256:...`."""
        name = self.repository
        if self.registry != DOCKER_HUB:
            name = f"{self.registry}/{name}"
        elif name.startswith("library/"):
            name = name[len("library/"):]
        if self.tag:
            name += f":{self.tag}"
        if self.digest:
            name += f"@{self.digest}"
        return name

    @property
    def short_repository(self) -> str:
        """The repository without Docker Hub's `library/`: `python`, `bitnami/nginx`."""
        if self.registry == DOCKER_HUB and self.repository.startswith("library/"):
            return self.repository[len("library/"):]
        return self.repository

    @property
    def repository_path(self) -> str:
        """The repository with its registry unless that is Docker Hub: `gcr.io/distroless/static`, `python`."""
        return self.short_repository if self.registry == DOCKER_HUB else f"{self.registry}/{self.repository}"

    def __str__(self) -> str:
        text = f"{self.registry}/{self.repository}"
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text


def parse_name(text: str) -> RegistryName:
    """`alpine` -> registry-1.docker.io/library/alpine:latest, as docker normalises names."""
    original = text
    name, digest = text, None
    if "@" in name:
        name, digest = name.split("@", 1)
        if not _DIGEST.match(digest):
            raise ImagelintError(f"invalid digest in image reference {original!r}")
    tag = None
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        name, tag = name.rsplit(":", 1)
        if not _TAG.match(tag):
            raise ImagelintError(f"invalid tag {tag!r} in image reference {original!r}")
    first, _, rest = name.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost" or first != first.lower()):
        registry, repository = first, rest
    else:
        registry, repository = DOCKER_HUB, name
    if registry in _HUB_ALIASES:
        registry = DOCKER_HUB
    if registry == DOCKER_HUB and "/" not in repository:
        repository = f"library/{repository}"
    if not _REPOSITORY.match(repository):
        raise ImagelintError(f"invalid repository name {repository!r} in image reference {original!r}")
    if tag is None and digest is None:
        tag = "latest"
    return RegistryName(registry, repository, tag, digest)


def parse_base_name(text: str) -> RegistryName:
    """A FROM line's image name, as `parse_name` normalises it but never refusing: names are
    lowercased and left unvalidated (the Dockerfile may be linted before its ARGs are known)."""
    name, _, digest = text.strip().partition("@")
    tag = ""
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        name, tag = name.rsplit(":", 1)
    first, _, rest = name.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        registry, repository = first.lower(), rest.lower()
    else:
        registry, repository = DOCKER_HUB, name.lower()
    if registry in _HUB_ALIASES:
        registry = DOCKER_HUB
    if registry == DOCKER_HUB and "/" not in repository:
        repository = f"library/{repository}"
    return RegistryName(registry, repository, tag, digest or None)


@record(frozen=True)
class ImageReference:
    transport: str  # one of TRANSPORTS, or "auto" for a bare name
    text: str  # as the user wrote it
    path: str | None = None  # archives and layouts
    selector: str | None = None  # archive: "name:tag" or "@N"; oci: tag
    name: RegistryName | None = None  # docker, docker-daemon, auto

    def __str__(self) -> str:
        return self.text


def parse_reference(text: str) -> ImageReference:
    if not text or not text.strip():
        raise ImagelintError("empty image reference")
    text = text.strip()
    transport, sep, rest = text.partition(":")
    if sep and transport in TRANSPORTS:
        if transport == "docker":
            if not rest.startswith("//"):
                raise ImagelintError(f"{text!r}: the docker transport is written docker://registry/repo:tag")
            return ImageReference("docker", text, name=parse_name(rest[2:]))
        if transport == "docker-daemon":
            if not rest:
                raise ImagelintError(f"{text!r}: docker-daemon needs an image name, e.g. docker-daemon:alpine:3.20")
            if re.match(r"^sha256:[0-9a-f]{12,64}$", rest):  # an image ID, as containers-image allows
                return ImageReference("docker-daemon", text, selector=rest)
            return ImageReference("docker-daemon", text, selector=rest, name=parse_name(rest))
        if not rest:
            raise ImagelintError(f"{text!r}: {transport} needs a path")
        if transport == "docker-archive":
            # PATH[:name:tag] or PATH[:@N]; a path itself rarely holds a colon.
            path, colon, selector = rest.partition(":")
            return ImageReference(transport, text, path=path, selector=selector or None)
        path, colon, tag = rest.partition(":")
        if tag and not _TAG.match(tag) and not tag.startswith("@"):
            raise ImagelintError(f"{text!r}: invalid tag {tag!r}")
        return ImageReference(transport, text, path=path, selector=tag or None)
    # A bare path to an archive or layout is what people type first: take it as such.
    if os.path.isdir(text) and os.path.isfile(os.path.join(text, "oci-layout")):
        return ImageReference("oci", text, path=text)
    if os.path.isfile(text):
        return ImageReference("docker-archive", text, path=text)  # reads oci-archives too
    return ImageReference("auto", text, name=parse_name(text))
