"""`imagelint trust`: will this image (or this machine) trust that server, and if not, exactly why?

JSON contract (version 1):
  {"version": 1, "image": ..., "host": ..., "verdicts": [{"runtime", "store", "trusted", "reason",
   "certificate", "message", "error_text", "fix", "warnings", ...}]}
"""
from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone

from ..certs.connect import fetch_chain
from ..findings import ImagelintError
from ..fs.regular import read_regular_file
from ..trust.model import TrustModel
from ..trust.subjects import host_model, image_model
from ..trust.verdicts import Verdict, evaluate, parse_chain

# --------------------------------------------------------------------------- rendering

def to_json(verdicts: list[Verdict], image: str, host: str | None, model: TrustModel | None = None) -> str:
    subject = {"family": model.family, "bundle": model.bundle_path} if model is not None else {}
    return json.dumps({"version": 1, "image": image, "host": host, **subject,
                       "verdicts": [v.to_dict() for v in verdicts]}, indent=2, default=str)


def render_text(verdicts: list[Verdict], image: str, host: str | None, chain=None,
                at: datetime | None = None) -> str:
    lines = [f"imagelint trust {image}" + (f" (host {host})" if host else "")]
    if chain:
        leaf = chain[0]
        now = at or datetime.now(timezone.utc)
        state = " (EXPIRED)" if now > leaf.not_after else " (NOT YET VALID)" if now < leaf.not_before else ""
        lines.append(f"  server certificate: {leaf.subject}  valid {leaf.not_before:%Y-%m-%d %H:%M} .. "
                     f"{leaf.not_after:%Y-%m-%d %H:%M} UTC{state}  sha256 {leaf.fingerprint_sha256[:16]}…")
    if not verdicts:
        lines.append("  no TLS runtime found (use --runtime to ask for one)")
    for v in verdicts:
        mark = "trusted" if v.trusted else f"NOT TRUSTED ({v.reason})"
        lines.append("")
        lines.append(f"{v.runtime}: {mark}")
        lines.append(f"  store:   {v.store}")
        lines.append(f"  {'why:   ' if not v.trusted else 'path:  '}  {v.message}")
        if v.error_text:
            lines.append(f"  prints:  {v.error_text}")
        for warning in v.warnings:
            lines.append(f"  warning: {warning}")
        if v.fix:
            lines.append("  fix:")
            lines.extend(f"    {line}" for line in v.fix.splitlines())
    trusted = sum(v.trusted for v in verdicts)
    lines.append("")
    lines.append(f"{trusted} of {len(verdicts)} runtimes trust this chain")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- command entry point

def parse_at(text: str | None) -> datetime | None:
    """ISO date/time (UTC when no zone), or '+30d' / '+12h' from now."""
    if not text:
        return None
    relative = re.fullmatch(r"\+?(\d+)([dh])", text.strip())
    if relative:
        amount, unit = int(relative.group(1)), relative.group(2)
        return datetime.now(timezone.utc) + (timedelta(days=amount) if unit == "d" else timedelta(hours=amount))
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ImagelintError(f"--at: cannot read {text!r} (use 2026-12-31, 2026-12-31T12:00:00Z or +30d)") from None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def parse_host_port(text: str, default_port: int = 443) -> tuple[str, int]:
    match = re.fullmatch(r"\[([^\]]+)\](?::(\d+))?|([^:]+)(?::(\d+))?", text.strip())
    if not match:
        raise ImagelintError(f"--connect: expected HOST:PORT, got {text!r}")
    host = match.group(1) or match.group(3)
    port = int(match.group(2) or match.group(4) or default_port)
    if not 0 < port < 65536:
        raise ImagelintError(f"--connect: port {port} out of range")
    return host, port


MAX_CHAIN_BYTES = 16 * 1024 * 1024


def read_chain(chain_path: str | None, connect: str | None, host: str | None, timeout: float):
    """(chain, host) from --chain FILE or --connect HOST:PORT (one handshake, never verified)."""
    if chain_path is not None:
        # A regular file only (a FIFO would hang), and all of it or an error: never a silent head.
        try:
            data = read_regular_file(chain_path, MAX_CHAIN_BYTES)
        except ImagelintError as exc:
            raise ImagelintError(f"cannot read chain: {exc}", path=chain_path) from None
        return parse_chain(data, chain_path), host
    connect_host, port = parse_host_port(connect or "")
    ders = fetch_chain(connect_host, port, server_name=host or connect_host, timeout=timeout)
    return [record for der in ders for record in parse_chain(der, connect)], host or connect_host


def run_trust(subject: str, chain_path: str | None = None, connect: str | None = None,
              host: str | None = None, at: str | datetime | None = None, runtimes: list[str] | None = None,
              fmt: str = "text", timeout: float = 10.0, model: TrustModel | None = None) -> tuple[int, str]:
    """(exit code, report): 0 when every runtime present trusts the chain, 1 when any does not.
    `subject` is an image reference or "host"; `model` gives the trust model directly (tests).
    Bad input raises ImagelintError, which the CLI prints as one line with exit code 2."""
    if (chain_path is None) == (connect is None):
        raise ImagelintError("give exactly one of --chain FILE or --connect HOST:PORT")
    if fmt not in ("text", "json"):
        raise ImagelintError(f"unknown format {fmt!r} for trust (use text or json)")
    when = at if isinstance(at, datetime) else parse_at(at)
    chain, host = read_chain(chain_path, connect, host, timeout)
    if model is not None:
        verdicts = evaluate(model, chain, host, when, runtimes)
    elif subject == "host":
        model = host_model()
        verdicts = evaluate(model, chain, host, when, runtimes)
    else:
        with image_model(subject) as model:
            verdicts = evaluate(model, chain, host, when, runtimes)
    code = 0 if verdicts and all(v.trusted for v in verdicts) else 1
    if fmt == "json":
        return code, to_json(verdicts, subject, host, model) + "\n"
    return code, render_text(verdicts, subject, host, chain, when)
