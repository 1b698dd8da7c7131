"""`imagelint scan IMAGE...`: what the built image really trusts, and what is wrong with it.

Data flows one way: reference -> open (metadata) -> stream every layer once into an ImageTree ->
image checks -> findings -> (optional) mapped onto the Dockerfile that built the image -> report.
`--inventory` reports the trust stores instead of findings.
"""
from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..checks.image.context import ImageContext
from ..checks.runner import run_checks, to_findings
from ..certs.load import facts_store
from ..config import Config, find_config
from ..findings import Finding, ImagelintError, InputError
from ..image.cache import LayerCache
from ..trust.subjects import image_model

CONFIG_PATH = "config"  # the "path" of findings on the image config (Env, User) rather than a file


@dataclass
class ScanOptions:
    select: list[str] = field(default_factory=list)
    ignore: list[str] = field(default_factory=list)
    platform: str | None = None
    ca_file: str | None = None
    insecure_registries: list[str] = field(default_factory=list)
    dockerfile: str | None = None
    expiring_days: int = 30
    progress: bool = False
    config: Config | None = None
    inventory: bool = False
    cache: LayerCache | None = None  # None: every layer is read
    # Fleet scans: `docker://REGISTRY/` with every repository and tag matching the globs.
    all_images: bool = False
    repo_glob: str = "*"
    tag_glob: str = "*"
    shard: tuple[int, int] | None = None  # (I, N), 1-based
    fleet_progress: bool = False
    clients: dict = field(default_factory=dict)  # registry clients kept across the images of one run
    timeout: float | None = None  # seconds for all registry reads of one image


@dataclass
class ScanResult:
    findings: list[Finding] = field(default_factory=list)
    errors: list[InputError] = field(default_factory=list)
    sources: dict[str, str] = field(default_factory=dict)
    images: list[str] = field(default_factory=list)
    inventories: list[dict[str, Any]] = field(default_factory=list)


# --------------------------------------------------------------------------- running

def is_registry_root(ref: str) -> bool:
    """`docker://REGISTRY/`: a whole registry, not one image."""
    return ref.startswith("docker://") and ref[len("docker://"):].rstrip("/").count("/") == 0


def expand_fleet(refs: list[str], options: ScanOptions, result: ScanResult) -> list[str]:
    """Image references, with each registry root replaced by its images (once per digest), and
    only this shard's images when sharded."""
    if not options.shard and not any(is_registry_root(ref) for ref in refs):
        return refs  # one image at a time: no registry client imported (ssl, http: ~25 ms)
    from ..image.fleet import in_shard, list_fleet
    from ..image.sources.remote import RegistryOptions

    out: list[str] = []
    for ref in refs:
        if not is_registry_root(ref):
            out.append(ref)
            continue
        if not options.all_images:
            result.errors.append(InputError(ref, "a whole registry: add --all to scan every image in it"))
            continue
        registry = ref[len("docker://"):].rstrip("/")
        try:
            images = list_fleet(registry, repo_glob=options.repo_glob, tag_glob=options.tag_glob,
                                platform=options.platform,
                                options=RegistryOptions(ca_file=options.ca_file,
                                                        insecure_registries=tuple(options.insecure_registries)),
                                clients=options.clients)
        except ImagelintError as exc:
            result.errors.append(InputError(ref, str(exc)))
            continue
        if not images:
            result.errors.append(InputError(ref, "no repository or tag matches the globs"))
        out.extend(image.reference for image in images)
    if options.shard:
        index, count = options.shard
        out = [ref for ref in out if in_shard(ref.rsplit("@", 1)[-1] if "@" in ref else ref, index, count)]
    return out


def scan_images(refs: list[str], options: ScanOptions) -> ScanResult:
    result = ScanResult()
    mapper = None
    if options.dockerfile:
        try:
            mapper = DockerfileMap.load(options.dockerfile)
            result.sources[mapper.path] = mapper.text
        except ImagelintError as exc:
            result.errors.append(exc.as_input_error(options.dockerfile))
            return result
    config = options.config or find_config(Path(options.dockerfile or "."))
    refs = expand_fleet(refs, options, result)
    # With the layer cache, what the certificates of the image's stores say is kept beside it.
    with facts_store(options.cache.directory / "certificates" if options.cache is not None else None):
        _scan_each(refs, options, config, mapper, result)
    result.findings.sort(key=Finding.sort_key)
    return result


def _scan_each(refs: list[str], options: ScanOptions, config: Config | None, mapper: "DockerfileMap | None",
               result: ScanResult) -> None:
    for done, ref in enumerate(refs, 1):
        if options.fleet_progress:
            print(f"imagelint: [{done}/{len(refs)}] {ref}", file=sys.stderr, flush=True)
        try:
            findings, inventory = scan_image(ref, options, config, mapper, prefix=len(refs) > 1,
                                             internal=result.errors)
        except ImagelintError as exc:
            result.errors.append(InputError(exc.path or ref, str(exc), exc.line))
            continue
        result.images.append(ref)
        result.findings.extend(findings)
        if inventory is not None:
            result.inventories.append(inventory)


def scan_image(ref: str, options: ScanOptions, config: Config | None = None, mapper: "DockerfileMap | None" = None,
               *, internal: list[InputError], prefix: bool = False) -> tuple[list[Finding], dict | None]:
    """Findings of one image; a crashing check is recorded in `internal` (exit code 3)."""
    config = config or Config()
    progress = _Progress if options.progress else None
    # A fleet's images are platform manifests already; "all" only tells the fleet listing to fan out.
    platform = None if options.platform == "all" else options.platform
    with image_model(ref, platform=platform, ca_file=options.ca_file,
                     insecure_registries=tuple(options.insecure_registries), model=ImageContext,
                     progress=progress, cache=options.cache, clients=options.clients, timeout=options.timeout,
                     expiring_days=options.expiring_days) as ctx:
        if options.inventory:
            return [], inventory_of(ctx, ctx.image)
        run = run_checks("image", (ctx,), lambda rule: config.enabled(rule, None, options.select, options.ignore))
        internal.extend(InputError(ref, message, internal=True) for message in run.errors)

        def path_of(hit) -> str:
            inside = hit.properties.get("image_path") or CONFIG_PATH
            return f"{ref}:{inside}" if prefix else inside

        findings = to_findings(run.hits, path_of, config.severity)
        for finding in findings:
            finding.properties = {"image": ref, "image_digest": ctx.image.digest, **finding.properties}
            if mapper is not None:
                mapper.place(finding, ctx)
    return findings, None


def show_progress(no_progress: bool) -> bool:
    """Progress bars only for a person at a terminal: never in CI or when stderr is redirected."""
    if no_progress or os.environ.get("CI", "").lower() in ("true", "1") or os.environ.get("NO_PROGRESS"):
        return False
    return sys.stderr.isatty()


class _Progress:
    """One rich bar per layer: stored bytes read (downloaded) against the blob size."""

    def __init__(self, image):
        self.image = image

    def __enter__(self):
        from rich.console import Console
        from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

        # stderr: the report on stdout must stay byte-for-byte what a pipe would get.
        self.bars = Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                             transient=True, console=Console(stderr=True))
        self.bars.__enter__()
        self.tasks = {layer.index: self.bars.add_task(f"layer {layer.index}", total=layer.size if layer.size > 0 else None)
                      for layer in self.image.layers}
        return self.update

    def update(self, index: int, kind: str, count: int) -> None:
        if kind == "stored" and index in self.tasks:
            self.bars.advance(self.tasks[index], count)

    def __exit__(self, *exc):
        return self.bars.__exit__(*exc)


# --------------------------------------------------------------------------- inventory

def inventory_of(ctx, image) -> dict[str, Any]:
    """What the image trusts: every store per runtime, counts, custom CAs by subject, fingerprint, expiry."""
    from ..certs.load import UNSUPPORTED_KEY

    custom = ctx.custom_cas

    def cert_dict(cert, where: str | None = None) -> dict[str, Any]:
        data = {"subject": cert.subject, "fingerprint_sha256": cert.fingerprint_sha256,
                "not_after": cert.not_after.isoformat()}
        if where:
            data["found_in"] = where
        if cert.key_type.startswith(UNSUPPORTED_KEY):  # GOST, SM2: listed, with what could not be read
            data["note"] = cert.key_type
        return data

    stores = []
    if ctx.bundle is not None:
        stores.append({"runtime": "os", "name": f"{ctx.family or 'os'} bundle", "sources": [ctx.bundle_path],
                       "count": len(ctx.bundle.certificates),
                       "custom": [cert_dict(c) for c in ctx.bundle.certificates if c.fingerprint_sha256 in custom],
                       "notes": []})
    for store in ctx.all_stores:
        stores.append({"runtime": store.runtime, "name": store.name, "sources": list(store.sources),
                       "count": len(store.certificates),
                       "custom": [cert_dict(c) for c in store.certificates if c.fingerprint_sha256 in custom],
                       "notes": list(store.notes)})
    return {
        "image": ctx.reference,
        "digest": image.digest,
        "platform": getattr(image, "platform", ""),
        "family": ctx.family,
        "os": ctx.os_release.get("PRETTY_NAME") or None,
        "user": ctx.user or None,
        "bundle": ctx.bundle_path,
        "public_roots_known": bool(ctx.public_fingerprints),
        "anchors": [{"path": a.path, "certificates": [cert_dict(c) for c in a.certificates],
                     "in_bundle": all(c.fingerprint_sha256 in ctx.bundle_fingerprints for c in a.certificates)}
                    for a in ctx.anchor_files],
        "custom_cas": [cert_dict(cert, where) for cert, where in custom.values()],
        "stores": stores,
    }


def render_inventory(inventories: list[dict[str, Any]], fmt: str) -> str:
    import json

    if fmt == "json":
        return json.dumps({"version": 1, "images": inventories}, indent=2, ensure_ascii=True) + "\n"
    lines: list[str] = []
    for inv in inventories:
        if lines:
            lines.append("")
        lines.append(f"image {inv['image']} ({inv['digest']})")
        lines.append(f"  os: {inv['os'] or 'unknown'} (family {inv['family'] or 'unknown'})"
                     + (f", USER {inv['user']}" if inv["user"] else ""))
        lines.append(f"  bundle: {inv['bundle'] or 'none'}")
        if inv["custom_cas"]:
            lines.append(f"  custom CAs ({len(inv['custom_cas'])}):")
            for cert in inv["custom_cas"]:
                lines.append(f"    {cert['subject']}  sha256:{cert['fingerprint_sha256']}  "
                             f"expires {cert['not_after'][:10]}  ({cert['found_in']})"
                             + (f"  note: {cert['note']}" if cert.get("note") else ""))
        else:
            lines.append("  custom CAs: none")
        lines.append("  stores:")
        for store in inv["stores"]:
            custom = f", {len(store['custom'])} custom" if store["custom"] else ""
            sources = ", ".join(store["sources"]) or "(no certificates found)"
            lines.append(f"    {store['name']}: {store['count']} certificates{custom} from {sources}")
            for note in store["notes"]:
                lines.append(f"      note: {note}")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- Dockerfile mapping

_BUILDKIT_SUFFIX = re.compile(r"\s*# buildkit\s*$")
_NOP = re.compile(r"^/bin/sh -c #\(nop\)\s*")
_ARGS_PREFIX = re.compile(r"^\|\d+(?:\s+[A-Za-z_][A-Za-z0-9_]*=(?:\"[^\"]*\"|'[^']*'|\S*))*\s+")
_SHELL = re.compile(r"^(?:/bin/(?:ba)?sh|sh) -c\s+")


def normalize_history(created_by: str) -> tuple[str, str]:
    """(KEYWORD, argument text) from a history created_by of BuildKit or the classic builder."""
    text = _BUILDKIT_SUFFIX.sub("", created_by.strip())
    nop = _NOP.match(text)
    if nop:
        text = text[nop.end():]
        keyword, _, rest = text.partition(" ")
        return keyword.upper(), rest.strip()
    keyword, _, rest = text.partition(" ")
    if keyword.upper() == "RUN":
        text = rest
    elif not (text.startswith("|") or _SHELL.match(text)):
        return keyword.upper(), rest.strip()
    text = _ARGS_PREFIX.sub("", text)
    text = _SHELL.sub("", text)
    return "RUN", text.strip()


def _squash(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace("\\\n", " ")).strip().strip("'\"[]")


class DockerfileMap:
    """Matches the image's history to the instructions of the Dockerfile's shipped stage chain."""

    def __init__(self, path: str, text: str, model):
        self.path = path
        self.text = text
        self.model = model
        chain = list(reversed(model.shipped_chain()))  # base first
        self.instructions = [inst for stage in chain for inst in stage.instructions]
        self.from_inst = chain[0].from_inst if chain else None
        self.env_settings = [s for stage in chain for s in stage.env_settings if s.kind == "ENV"]
        self._cache: dict[int, dict[int, Any]] = {}

    @classmethod
    def load(cls, path: str) -> "DockerfileMap":
        from ..dockerfile.model import build_model  # the Dockerfile parser (~35 ms) only with --dockerfile
        from ..dockerfile.parse import parse_dockerfile
        from .inputs import read_source

        text = read_source(path)
        model = build_model(parse_dockerfile(text, path))
        if not model.stages:
            raise ImagelintError("no FROM instruction: not a Dockerfile", path=path)
        return cls(path, text, model)

    def _matches(self, inst, keyword: str, args: str) -> bool:
        if inst.keyword != keyword:
            return False
        mine = _squash(inst.args)
        theirs = _squash(args)
        if keyword in ("COPY", "ADD"):
            words = inst.args.split()
            destination = words[-1].strip("\"[]") if words else ""
            return bool(destination) and (theirs.endswith(destination) or theirs.rstrip("/").endswith(destination.rstrip("/")))
        if keyword == "RUN" and inst.heredocs:
            return True  # the history holds the heredoc body; the keyword and order decide
        if not mine or not theirs:
            return mine == theirs
        return mine == theirs or mine in theirs or theirs in mine

    def history_to_instruction(self, history: list[dict]) -> dict[int, Any]:
        """history index -> Instruction, aligned from the end (the base image's entries come first)."""
        key = hash(tuple(str(h.get("created_by") or "") for h in history))
        if key in self._cache:
            return self._cache[key]
        mapping: dict[int, Any] = {}
        j = len(self.instructions) - 1
        for h in range(len(history) - 1, -1, -1):
            if j < 0:
                break
            keyword, args = normalize_history(str(history[h].get("created_by") or ""))
            for k in range(j, -1, -1):
                if self._matches(self.instructions[k], keyword, args):
                    mapping[h] = self.instructions[k]
                    j = k - 1
                    break
        self._cache[key] = mapping
        return mapping

    def place(self, finding: Finding, ctx) -> None:
        """Move an image finding onto the Dockerfile line that made it (the FROM line when the base did)."""
        history = ctx.history
        mapping = self.history_to_instruction(history)
        layer_history = [i for i, h in enumerate(history) if not h.get("empty_layer")]
        inst = None
        layer = finding.properties.get("layer")
        if layer is not None and layer["index"] < len(layer_history):
            inst = mapping.get(layer_history[layer["index"]])
        elif layer is None and finding.properties.get("variable"):
            inst = self._env_instruction(finding.properties["variable"])
            if inst is None and finding.properties.get("created_by"):
                created = finding.properties["created_by"]
                index = next((i for i in range(len(history) - 1, -1, -1)
                              if history[i].get("created_by") == created), None)
                inst = mapping.get(index) if index is not None else None
        if inst is None:
            inst = self.from_inst
            finding.properties["from_base_image"] = True
        if inst is None:
            return
        finding.properties.setdefault("image_location", finding.path)
        finding.path = self.path
        finding.line, finding.end_line = inst.line, inst.end_line
        finding.column = 1
        finding.end_column = len(self.model.parsed.line_text(inst.end_line)) + 1

    def _env_instruction(self, name: str):
        for setting in reversed(self.env_settings):
            if setting.name == name:
                return setting.inst
        return None
