"""Commands that switch TLS verification off for one call (insecure-cmd)."""
from __future__ import annotations

from ...dockerfile.shell import Command
from ...fixes import builders as fixes
from ..registry import check
from .common import is_cert_path, short_flag_cluster_has

# curl short options that take an argument: a cluster stops at them (`-ko file` is -k -o file).
CURL_SHORT_WITH_ARG = "AbcCdDeEFHKmoPQrtTuUwxXyYz"
WGET_SHORT_WITH_ARG = "oaOPeitTwQlADRIXUB"


def download_purpose(cmd: Command) -> str:
    """'a CA certificate', 'a script piped to a shell' or 'a file', for messages."""
    values = [w.value for w in cmd.args]
    targets = [v for v in values if "://" in v]
    out = None
    for i, v in enumerate(values):
        if v in ("-o", "--output", "-O", "--output-document") and i + 1 < len(values):
            out = values[i + 1]
    if any(is_cert_path(t) for t in targets + ([out] if out else [])):
        return "a CA certificate"
    if cmd.redirects:
        for r in cmd.redirects:
            if r.target is not None and is_cert_path(r.target.value):
                return "a CA certificate"
    return ""


def piped_to_shell(cmd: Command, commands: list[Command]) -> bool:
    return any(c.piped_from is cmd and c.name in ("sh", "bash", "dash", "ash", "zsh", "python", "python3", "perl") for c in commands)


@check("IL110")
def curl_insecure(model, ctx):
    for stage in model.stages:
        for run, cmd in stage.commands():
            if cmd.name != "curl":
                continue
            for w in cmd.args:
                v = w.value
                if v in ("-k", "--insecure") or short_flag_cluster_has(v, "k", CURL_SHORT_WITH_ARG):
                    what = "--insecure" if v == "--insecure" else "-k"
                elif v in ("--proxy-insecure", "--doh-insecure"):
                    what = v
                else:
                    continue
                purpose = download_purpose(cmd)
                if piped_to_shell(cmd, run.commands):
                    detail = f"curl {what} downloads a script piped to a shell without verifying the server: anyone on the path can run code in the build"
                elif purpose:
                    detail = f"curl {what} downloads {purpose} without verifying the server: anyone on the path can substitute their own CA"
                else:
                    detail = f"curl {what} turns off TLS certificate verification for this download"
                yield ctx.hit("IL110", detail, run.inst, w.start, w.end, stage=stage,
                              fix=fixes.curl_insecure(model, stage, run, cmd, w))


@check("IL111")
def wget_no_check_certificate(model, ctx):
    for stage in model.stages:
        for run, cmd in stage.commands():
            if cmd.name != "wget":
                continue
            for w in cmd.args:
                if w.value != "--no-check-certificate":
                    continue
                purpose = download_purpose(cmd)
                if piped_to_shell(cmd, run.commands):
                    detail = "wget --no-check-certificate downloads a script piped to a shell without verifying the server: anyone on the path can run code in the build"
                elif purpose:
                    detail = f"wget --no-check-certificate downloads {purpose} without verifying the server: anyone on the path can substitute their own CA"
                else:
                    detail = "wget --no-check-certificate turns off TLS certificate verification for this download"
                yield ctx.hit("IL111", detail, run.inst, w.start, w.end, stage=stage,
                              fix=fixes.wget_no_check(model, stage, run, cmd, w))
