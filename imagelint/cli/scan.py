"""`imagelint scan` without typer: what the command does once its options are known, and a parser
for the plain invocations CI and scripts make (`imagelint scan [-f FORMAT] ... IMAGE...`).

As for lint (cli/lint.py), anything the plain parser does not know (--help, `--`, an unknown or
abbreviated option, a missing or unusual value) goes to the typer app, so help, usage errors and
every option behave as they do there.
"""
from __future__ import annotations

import os
from typing import List, Optional

from .. import __version__
from .common import (LINT_FORMATS, _echo_err, _emit, _exit_code, _fail, _fail_level, _load_config,
                     _rule_selection, _split_ids, _use_color)
from .plain import parse_plain

# `imagelint scan` options: (long, short) -> run_scan keyword. Keep in step with cli/app.py's `scan`.
_VALUE_OPTIONS = {"--format": "format", "-f": "format", "--output": "output", "-o": "output",
                  "--fail-level": "fail_level", "--platform": "platform", "--ca-file": "ca_file",
                  "--dockerfile": "dockerfile", "--repo-glob": "repo_glob", "--tag-glob": "tag_glob",
                  "--shard": "shard", "--config": "config", "--cache-dir": "cache_dir"}
_LIST_OPTIONS = {"--select": "select", "--ignore": "ignore", "--insecure-registry": "insecure_registry"}
_INT_OPTIONS = {"--shards": "shards", "--expiring-days": "expiring_days"}
_FLOAT_OPTIONS = {"--timeout": "timeout"}
_FLAGS = {"--all": "all_images", "--progress": "progress", "--inventory": "inventory", "--allow-empty": "allow_empty",
          "--no-progress": "no_progress", "--no-color": "no_color", "--no-cache": "no_cache"}


def plain_scan_arguments(args: list[str]) -> dict | None:
    """run_scan's keywords for the arguments after `scan`, or None when typer must parse them."""
    return parse_plain(args, "images", values=_VALUE_OPTIONS, flags=_FLAGS, lists=_LIST_OPTIONS, ints=_INT_OPTIONS,
                       floats=_FLOAT_OPTIONS)


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("true", "1")


def _shard(shard: Optional[str], shards: Optional[int]):
    """(I, N) from --shard I/N, or from --shards N and the Indexed Job's JOB_COMPLETION_INDEX (0-based)."""
    if not shard and not shards:
        return None
    from ..findings import ImagelintError
    from ..image.fleet import parse_shard  # the registry client: only for sharded scans

    try:
        if shard and shards:
            raise ImagelintError("give --shard I/N or --shards N, not both")
        if shard:
            return parse_shard(shard)
        index = os.environ.get("JOB_COMPLETION_INDEX", "")
        if not index.isdigit():
            raise ImagelintError("--shards N needs JOB_COMPLETION_INDEX (set by a Kubernetes Indexed Job)")
        return parse_shard(f"{int(index) + 1}/{shards}")
    except ImagelintError as exc:
        raise _fail(str(exc))


def run_scan(images: List[str], format: str = "text", output: Optional[str] = None, fail_level: Optional[str] = None,
             select: Optional[List[str]] = None, ignore: Optional[List[str]] = None, platform: Optional[str] = None,
             ca_file: Optional[str] = None, insecure_registry: Optional[List[str]] = None,
             dockerfile: Optional[str] = None, all_images: bool = False, repo_glob: str = "*", tag_glob: str = "*",
             shard: Optional[str] = None, shards: Optional[int] = None, progress: bool = False,
             inventory: bool = False, expiring_days: int = 30, config: Optional[str] = None,
             allow_empty: bool = False, no_progress: bool = False, no_color: bool = False,
             cache_dir: Optional[str] = None, no_cache: bool = False, timeout: float = 600.0) -> int:
    """Scan, write the report, say the errors on stderr; the exit code (a usage error raises SystemExit(2))."""
    from ..commands.scan import ScanOptions, render_inventory, scan_images, show_progress
    from ..findings import Severity
    from ..image.cache import layer_cache

    allowed = ["text", "json"] if inventory else LINT_FORMATS
    if format not in allowed:
        raise _fail(f"unknown format {format!r}{' for --inventory' if inventory else ''} (choose from {', '.join(allowed)})")
    if ca_file and not os.path.isfile(ca_file):
        raise _fail(f"{ca_file}: --ca-file does not exist")
    selected, ignored = _split_ids(select), _split_ids(ignore)
    if not inventory:
        _rule_selection(selected, ignored, lambda: {"image"}, "scan", allow_empty)
    cfg = _load_config(config)
    level = _fail_level(fail_level, cfg, Severity.WARNING)
    options = ScanOptions(selected, ignored, platform, ca_file, list(insecure_registry or []),
                          dockerfile, expiring_days, show_progress(no_progress), cfg, inventory,
                          layer_cache(cache_dir, not no_cache), all_images, repo_glob, tag_glob,
                          _shard(shard, shards), progress and not _in_ci(),
                          timeout=timeout if timeout > 0 else None)
    result = scan_images(list(images), options)
    for error in result.errors:
        _echo_err(f"imagelint: error: {error}")
    if not result.images:
        return 2
    if inventory:
        _emit(render_inventory(result.inventories, format), output)
        return 2 if result.errors else 0
    from ..catalogue import load_catalogue
    from ..report import Report, render

    shown = result.images[0] if len(result.images) == 1 else ", ".join(result.images)
    # Images that could not be read stay in the machine formats too (JSON errors, SARIF notifications).
    report = Report(result.findings, list(result.errors), load_catalogue(), result.sources, __version__, "image",
                    len(result.images), image=shown)
    _emit(render(format, report, color=_use_color(no_color, output)), output)
    return _exit_code(result.findings, result.errors, level)
