"""Reading the build context (the Dockerfile's directory or `--context DIR`) for checks that need
file contents: certificates, keys, requirements files.

Files are read only under the context directory, never through a symlink that leaves it, and
`.dockerignore` is respected (a file Docker would not send is not in the image). Anything missing
or unreadable is simply absent: checks stay quiet about what they cannot see.
"""
from __future__ import annotations

import os
import posixpath
import re
import stat
from functools import lru_cache

from ..findings import ImagelintError
from .model import FileOp, Stage

MAX_FILE_BYTES = 1024 * 1024
MAX_WALK_FILES = 5000


def _within(root: str, path: str) -> bool:
    try:
        return os.path.commonpath([root, path]) == root
    except ValueError:
        return False


@lru_cache(maxsize=64)
def _real_root(context_dir: str) -> str | None:
    real = os.path.realpath(context_dir)
    return real if os.path.isdir(real) else None


def normalise_source(rel: str) -> str | None:
    """A COPY source as a context-relative path ('' is the root); None when it escapes."""
    rel = rel.replace("\\", "/").strip()
    rel = posixpath.normpath("/" + rel.lstrip("/")).lstrip("/")
    if rel.startswith(".."):
        return None
    return "" if rel == "." else rel


# --- .dockerignore (moby/patternmatcher semantics: last match wins, `!` re-includes, `**`) -------

MAX_IGNORE_PATTERNS = 10_000


def _pattern_regex(pattern: str) -> re.Pattern:
    out = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "*":
            if pattern[i:i + 2] == "**":
                i += 2
                if pattern[i:i + 1] == "/":
                    i += 1
                    out.append("(?:.*/)?")
                else:
                    out.append(".*")
                continue
            out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        elif ch == "[":
            end = pattern.find("]", i + 1)
            if end == -1:
                out.append(re.escape(ch))
            else:
                body = pattern[i + 1:end].replace("\\", "\\\\")
                if body.startswith("!"):
                    body = "^" + body[1:]
                out.append(f"[{body}]")
                i = end
        elif ch == "\\" and i + 1 < len(pattern):
            i += 1
            out.append(re.escape(pattern[i]))
        else:
            out.append(re.escape(ch))
        i += 1
    return re.compile("^" + "".join(out) + "$")


def _ignore_rules(root: str) -> tuple[tuple[bool, re.Pattern], ...]:
    path = os.path.join(root, ".dockerignore")
    try:
        st = os.stat(path)
    except OSError:
        return ()
    if not stat.S_ISREG(st.st_mode):
        return ()  # a FIFO would block the read forever
    stamp = st.st_mtime_ns
    return _parse_ignore(path, stamp)


@lru_cache(maxsize=64)
def _parse_ignore(path: str, _stamp: int) -> tuple[tuple[bool, re.Pattern], ...]:
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            lines = fh.read().splitlines()
    except OSError:
        return ()
    rules = []
    for number, line in enumerate(lines, 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if len(rules) >= MAX_IGNORE_PATTERNS:  # each is a regex, tried on every context path
            raise ImagelintError(f"more than {MAX_IGNORE_PATTERNS} patterns (the limit for a .dockerignore)",
                                 path=path, line=number)
        exception = line.startswith("!")
        if exception:
            line = line[1:].strip()
        line = posixpath.normpath(line.lstrip("/")) if line not in ("", "/") else ""
        if not line or line == ".":
            continue
        rules.append((exception, _pattern_regex(line)))
    return tuple(rules)


def unreadable_context(context_dir: str) -> str | None:
    """Why the build context cannot be read (its .dockerignore over a limit), or None. The caller
    checks the Dockerfile without the context and says so in one line."""
    root = _real_root(context_dir)
    if root is None:
        return None
    try:
        _ignore_rules(root)
    except ImagelintError as exc:
        return f"{exc.as_input_error()}; the build context is not read, the Dockerfile is checked without it"
    return None


def ignored(root: str, rel: str) -> bool:
    """Would Docker leave `rel` out of the context? A matching parent directory excludes too."""
    rules = _ignore_rules(root)
    if not rules:
        return False
    parts = rel.split("/")
    candidates = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
    excluded = False
    for exception, regex in rules:
        if any(regex.match(c) for c in candidates):
            excluded = not exception
    return excluded


# --- reading ------------------------------------------------------------------------------------

def _resolve(context_dir: str | None, rel: str) -> tuple[str, str, str] | None:
    """(root, rel, real path) for a context-relative path that stays inside the context."""
    if not context_dir:
        return None
    root = _real_root(context_dir)
    if root is None:
        return None
    norm = normalise_source(rel)
    if norm is None:
        return None
    real = os.path.realpath(os.path.join(root, norm))
    if not _within(root, real):
        return None  # a symlink (or ..) leading out of the context
    return root, norm, real


def read_context_file(context_dir: str | None, rel: str, max_bytes: int = MAX_FILE_BYTES,
                      head: bool = False) -> bytes | None:
    """A context file's bytes; None when absent, ignored, outside the context or larger than
    `max_bytes` (with `head`, its first `max_bytes` instead)."""
    found = _resolve(context_dir, rel)
    if found is None:
        return None
    root, norm, real = found
    if not norm or ignored(root, norm) or not os.path.isfile(real):
        return None
    try:
        with open(real, "rb") as fh:
            data = fh.read(max_bytes + 1)
    except OSError:
        return None
    if head:
        return data[:max_bytes]
    return data if len(data) <= max_bytes else None


_EXPAND_CACHE: dict[tuple, list[str]] = {}


def expand_context_source(context_dir: str | None, source: str) -> list[str]:
    """The context files a COPY/ADD source stands for: a file, every file under a directory, or the
    files a glob matches. Context-relative paths; [] when unknown or absent."""
    if not context_dir or "://" in source or source.startswith("<<"):
        return []
    # Many Dockerfiles share one context and copy the same sources (`COPY . /app`): resolve each
    # once while neither the source nor .dockerignore changes.
    fixed = source.lstrip("/")
    if any(c in fixed for c in "*?["):  # a glob: the directory its matches are listed from
        fixed = "/".join(p for p in fixed.split("/")[:-1] if not any(c in p for c in "*?["))
    try:
        ignore_file = os.path.join(context_dir, ".dockerignore")
        stamp = (os.stat(os.path.join(context_dir, fixed)).st_mtime_ns,
                 os.stat(ignore_file).st_mtime_ns if os.path.exists(ignore_file) else 0)
    except OSError:
        stamp = None
    key = (context_dir, source, stamp)
    if stamp is not None and key in _EXPAND_CACHE:
        return list(_EXPAND_CACHE[key])
    found = _expand_uncached(context_dir, source)
    if stamp is not None:
        if len(_EXPAND_CACHE) > 1024:
            _EXPAND_CACHE.clear()
        _EXPAND_CACHE[key] = found
    return list(found)


def _expand_uncached(context_dir: str, source: str) -> list[str]:
    root = _real_root(context_dir)
    if root is None:
        return []
    norm = normalise_source(source)
    if norm is None:
        return []
    if any(c in norm for c in "*?["):
        return _glob(root, norm)
    joined = os.path.join(root, norm)
    if not os.path.lexists(joined):
        return []  # one stat: what the kernel cannot find, realpath (the same links) cannot either
    real = os.path.realpath(joined)
    if not _within(root, real):
        return []
    if os.path.isfile(real):
        return [] if ignored(root, norm) else [norm]
    if os.path.isdir(real):
        return _walk(root, norm)
    return []


def _walk(root: str, top: str) -> list[str]:
    # Many Dockerfiles share one context (and `COPY . /app`): list each directory once per run.
    try:
        stamp = os.stat(os.path.join(root, ".dockerignore")).st_mtime_ns
    except OSError:
        stamp = 0
    return list(_walk_cached(root, top, stamp))


@lru_cache(maxsize=256)
def _walk_cached(root: str, top: str, _ignore_stamp: int) -> tuple[str, ...]:
    return tuple(_walk_uncached(root, top))


def _walk_uncached(root: str, top: str) -> list[str]:
    out: list[str] = []
    base = os.path.join(root, top) if top else root
    for dirpath, dirnames, filenames in os.walk(base, followlinks=False):
        rel_dir = os.path.relpath(dirpath, root).replace(os.sep, "/")
        rel_dir = "" if rel_dir == "." else rel_dir
        dirnames[:] = sorted(d for d in dirnames if d != ".git" and not ignored(root, posixpath.join(rel_dir, d)))
        for name in sorted(filenames):
            rel = posixpath.join(rel_dir, name)
            real = os.path.realpath(os.path.join(root, rel))
            if not _within(root, real) or ignored(root, rel) or not os.path.isfile(real):
                continue
            out.append(rel)
            if len(out) >= MAX_WALK_FILES:
                return out
    return out


def _glob(root: str, pattern: str) -> list[str]:
    import fnmatch

    parts = pattern.split("/")
    paths = [""]
    for i, part in enumerate(parts):
        nxt = []
        for p in paths:
            full = os.path.join(root, p) if p else root
            if any(c in part for c in "*?["):
                try:
                    names = sorted(os.listdir(full))
                except OSError:
                    continue
                nxt.extend(posixpath.join(p, n) for n in names if fnmatch.fnmatchcase(n, part))
            else:
                nxt.append(posixpath.join(p, part))
        paths = nxt[:MAX_WALK_FILES]
    out: list[str] = []
    for p in paths:
        real = os.path.realpath(os.path.join(root, p))
        if not _within(root, real) or ignored(root, p):
            continue
        if os.path.isfile(real):
            out.append(p)
        elif os.path.isdir(real):
            out.extend(_walk(root, p))
    return out


def context_sources(op: FileOp) -> list[str]:
    """The build-context sources of a COPY/ADD (none for --from, URLs, heredocs, RUN copies)."""
    if op.command is not None or op.kind != "copy" or op.from_stage is not None or op.from_image:
        return []
    if op.inst.keyword not in ("COPY", "ADD"):
        return []
    return [s for s in op.sources if "://" not in s and not s.startswith("<<") and not s.startswith("git@")]


def image_path_of(op: FileOp, source: str, context_file: str) -> str:
    """Where a context file lands in the image, for one COPY source (file, directory or glob)."""
    name = posixpath.basename(context_file)
    norm_source = normalise_source(source) or ""
    if context_file == norm_source or any(c in norm_source for c in "*?["):
        if op.is_dir or op.path.endswith("/") or len(op.sources) > 1 or any(c in norm_source for c in "*?["):
            # a glob keeps each match's name; a directory match keeps its inner layout
            if any(c in norm_source for c in "*?[") and "/" in context_file:
                fixed = norm_source.rsplit("/", 1)[0] if "/" in norm_source else ""
                rel = context_file[len(fixed):].lstrip("/") if fixed and context_file.startswith(fixed) else name
                return posixpath.join(op.path, rel)
            return posixpath.join(op.path, name)
        return op.path
    # A directory source: its contents are copied into the destination.
    rel = context_file[len(norm_source):].lstrip("/") if norm_source else context_file
    return posixpath.join(op.path, rel)


def context_file_for(stage: Stage, image_path: str, context_dir: str | None) -> str | None:
    """The context file a COPY in the stage chain put at `image_path` (the last one wins)."""
    found = None
    for _stage, op in stage.inherited_file_ops():
        for source in context_sources(op):
            norm = normalise_source(source)
            if norm is None:
                continue
            if op.path == image_path and not op.is_dir and not op.path.endswith("/"):
                found = norm
                continue
            if image_path.startswith(op.path.rstrip("/") + "/"):
                rest = image_path[len(op.path.rstrip("/")) + 1:]
                # A file copied into a directory (also `COPY f .` onto an existing WORKDIR) keeps its name.
                if rest == posixpath.basename(norm) and _is_file(context_dir, norm):
                    found = norm
                    continue
                candidate = posixpath.join(norm, rest) if norm else rest
                if _is_file(context_dir, candidate):
                    found = candidate
    return found


def _is_file(context_dir: str | None, rel: str) -> bool:
    found = _resolve(context_dir, rel)
    return bool(found and found[1] and os.path.isfile(found[2]) and not ignored(found[0], found[1]))


def copied_files(context_dir: str | None, op: FileOp) -> list[tuple[str, str]] | None:
    """(image path, context-relative path) for every build-context file a COPY/ADD brings in; None
    when its sources cannot all be seen (no context, a URL or heredoc, another stage, a missing file)."""
    if not context_dir:
        return None
    sources = context_sources(op)
    if not sources or len(sources) != len(op.sources):
        return None
    found: list[tuple[str, str]] = []
    for source in sources:
        files = expand_context_source(context_dir, source)
        if not files:
            return None
        found.extend((image_path_of(op, source, rel), rel) for rel in files)
    return found
