"""Trust stores a non-root process can change (IL711): whoever can write the bundle, an anchor
directory or a JVM's cacerts decides which servers every client of the container trusts."""
from __future__ import annotations

from ..registry import check
from .context import ImageContext, is_writable_by_others


def _trust_paths(ctx: ImageContext) -> list[str]:
    paths: list[str] = []
    if ctx.bundle_path:
        paths.append(ctx.bundle_path)
    for candidate in ("/etc/ssl/certs", *(ctx.facts.anchor_dirs or [])):
        if ctx.view.info(candidate) is not None:
            paths.append(candidate)
    paths += [a.path for a in ctx.anchor_files]
    for store in ctx.stores:
        if store.runtime == "java":
            for source in store.sources:
                path = source.split(" -> ")[0]
                if path.startswith("/"):
                    paths.append(path)
    return paths


@check("IL711", kind="image")
def trust_store_writable(ctx: ImageContext):
    uid, gid = ctx.user_ids
    seen: set[str] = set()
    for path in _trust_paths(ctx):
        real = ctx.view.realpath(path)
        if real is None or real in seen:
            continue
        seen.add(real)
        info = ctx.view.info(real)
        if info is None:
            continue
        why = is_writable_by_others(info, uid, gid)
        if why is None:
            continue
        shown = path if real == path else f"{path} -> {real}"
        what = "directory" if info.kind == "dir" else "file"
        user = f" (USER {ctx.user})" if ctx.user else ""
        yield ctx.hit("IL711", f"trust-store {what} {shown} is {why}{user}: a process that is not root can add a CA "
                      "every client in the container then trusts", real, mode=f"{info.mode:04o}", uid=info.uid,
                      gid=info.gid)
