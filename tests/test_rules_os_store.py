"""OS trust-store rules (IL202-IL240) and the multi-stage rules (IL401-IL403): the mechanisms
behind them (typo distance, modes, owners, build-context reading) and cases the fixtures do not
spell out."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from imagelint.checks.dockerfile.os_store import (
    _distance, _known_dirs, non_root_owner, trust_path_touched, typo_of, world_writable,
)
from imagelint.commands.lint import LintOptions, lint_text

ROOT = Path(__file__).resolve().parents[1]


def rules(text: str, context: str | None = None, prefix: tuple[str, ...] = ("IL2", "IL4")) -> list[tuple[str, int]]:
    findings, _ = lint_text(text, "Dockerfile", LintOptions(context_dir=context))
    return [(f.rule, f.line) for f in findings if f.rule.startswith(prefix)]


def ids(text: str, context: str | None = None) -> set[str]:
    return {rule for rule, _ in rules(text, context)}


# --- mechanisms --------------------------------------------------------------------------------------

def test_edit_distance_counts_transpositions_once():
    assert _distance("anchors", "anchros") == 1
    assert _distance("certificate", "certificates") == 1
    assert _distance("abc", "abc") == 0
    assert _distance("a" * 10, "b" * 30) == 3  # capped


@pytest.mark.parametrize("path, intended", [
    ("/usr/local/share/ca-certificate", "/usr/local/share/ca-certificates"),
    ("/usr/local/share/ca-certifcates", "/usr/local/share/ca-certificates"),
    ("/usr/share/local/ca-certificates", "/usr/local/share/ca-certificates"),
    ("/etc/pki/ca-trust/source/anchor", "/etc/pki/ca-trust/source/anchors"),
    ("/etc/pki/ca-trust/anchors", "/etc/pki/ca-trust/source/anchors"),
    ("/etc/pki/trust/anchor", "/etc/pki/trust/anchors"),
])
def test_typos_of_known_anchor_dirs(path, intended):
    assert typo_of(path, _known_dirs()) == intended


@pytest.mark.parametrize("path", [
    "/usr/local/share/ca-certificates",       # the real thing
    "/usr/local/share/ca-certificates/corp",  # a subdirectory Debian reads recursively
    "/usr/share/ca-certificates",             # Debian's package directory (IL224's business)
    "/usr/share/pki/trust/anchors",           # SUSE vs RHEL: both real, far apart
    "/usr/share/pki/ca-trust-source/anchors",
    "/etc/pki/ca-trust/source",               # RHEL's neutral directory (IL223's business)
    "/etc/pki/tls/certs",
    "/usr/local/share",                       # an ancestor
    "/usr/local/share/certificates",          # three edits away: someone's own directory
    "/opt/app/certs",
])
def test_real_or_unrelated_dirs_are_not_typos(path):
    assert typo_of(path, _known_dirs()) is None


@pytest.mark.parametrize("mode, writable", [
    ("777", True), ("0666", True), ("1777", True), ("775", False), ("644", False), ("0755", False),
    ("o+w", True), ("a+w", True), ("ugo+rw", True), ("u+w", False), ("g+w", False), ("+x", False), ("go-w", False),
])
def test_world_writable_modes(mode, writable):
    assert world_writable(mode) is writable


@pytest.mark.parametrize("owner, user", [("app", "app"), ("app:app", "app"), ("1000:1000", "1000"),
                                         ("root", None), ("0:0", None), ("root:app", None), (":app", None)])
def test_non_root_owner(owner, user):
    assert non_root_owner(owner) == user


def test_trust_paths_for_chmod_and_chown():
    assert trust_path_touched("/etc/ssl/certs", False) == "/etc/ssl/certs"
    assert trust_path_touched("/etc", True) == "/etc/ssl"
    assert trust_path_touched("/etc", False) is None
    assert trust_path_touched("/", True, reliable=False) is None  # `chown -R app .` with an unknown WORKDIR
    assert trust_path_touched("/etc/pki/tls/certs/localhost.crt", False) is None  # a server certificate
    assert trust_path_touched("/opt/java/openjdk/lib/security/cacerts", False) == "/opt/java/openjdk/lib/security/cacerts"
    assert trust_path_touched("/srv/app", True) is None


# --- ordering, hiding, variables -----------------------------------------------------------------------

def test_tool_installed_in_an_earlier_stage_of_the_chain_counts():
    text = """FROM alpine:3.20 AS base
RUN apk add --no-cache ca-certificates
FROM base
RUN update-ca-certificates
"""
    assert "IL210" not in ids(text)


def test_tool_installed_in_an_unrelated_stage_does_not_count():
    text = """FROM alpine:3.20 AS other
RUN apk add --no-cache ca-certificates
FROM alpine:3.20
RUN update-ca-certificates
"""
    assert rules(text) == [("IL210", 4)]


def test_tool_missing_in_sh_c_and_exec_form():
    assert "IL210" in ids('FROM debian:12\nRUN ["sh", "-c", "update-ca-certificates || :"]\n')
    assert "IL210" in ids('FROM ubuntu:24.04\nRUN sh -c "update-ca-certificates 2>/dev/null"\n')


def test_apt_recommends_off_by_config_means_only_dependents_count():
    text = """FROM debian:12
RUN echo 'APT::Install-Recommends "0";' > /etc/apt/apt.conf.d/99norecommends
RUN apt-get update && apt-get install -y curl && update-ca-certificates
"""
    assert "IL210" in ids(text)
    assert "IL210" not in ids(text.replace("curl", "curl ca-certificates"))


def test_purge_via_variable_assigned_in_the_run():
    text = """FROM debian:12
RUN deps='ca-certificates curl' && apt-get update && apt-get install -y --no-install-recommends $deps
COPY corp.crt /usr/local/share/ca-certificates/
RUN update-ca-certificates && deps='ca-certificates curl' && apt-get purge -y --auto-remove $deps
"""
    assert rules(text) == [("IL203", 4)]


def test_append_before_update_is_an_error_after_update_a_warning():
    before = "FROM debian:12\nRUN cat /tmp/c.pem >> /etc/ssl/certs/ca-certificates.crt\nRUN apt-get update && apt-get install -y ca-certificates\n"
    after = "FROM debian:12\nRUN apt-get update && apt-get install -y ca-certificates\nRUN cat /tmp/c.pem >> /etc/ssl/certs/ca-certificates.crt\n"
    f_before, _ = lint_text(before, "Dockerfile", LintOptions())
    f_after, _ = lint_text(after, "Dockerfile", LintOptions())
    assert [str(f.severity) for f in f_before if f.rule == "IL231"] == ["error"]
    assert [str(f.severity) for f in f_after if f.rule == "IL231"] == ["warning"]


def test_unknown_base_stays_quiet():
    text = """FROM corp.example.com/base/runtime:1
COPY corp.pem /usr/local/share/ca-certificates/
COPY corp.crt /etc/ssl/certs/
RUN update-ca-certificates || true
"""
    assert ids(text) == set()


# --- the build context ----------------------------------------------------------------------------------

def _pem() -> bytes:
    return (ROOT / "fixtures/lint/ca-context/corp-root.crt").read_bytes()


def test_directory_copy_checks_each_visible_file(tmp_path):
    certs = tmp_path / "certs"
    (certs / "nested").mkdir(parents=True)
    (certs / "root.crt").write_bytes(_pem())
    (certs / "nested" / "issuing.cer").write_bytes(_pem())
    (certs / "NOTES.txt").write_text("not a certificate\n")
    text = """FROM debian:12
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates
COPY certs/ /usr/local/share/ca-certificates/
RUN update-ca-certificates
"""
    findings, _ = lint_text(text, str(tmp_path / "Dockerfile"), LintOptions(context_dir=str(tmp_path)))
    hits = [f.message for f in findings if f.rule == "IL220"]
    assert len(hits) == 1 and "nested/issuing.cer" in hits[0]


def test_der_file_without_extension_in_context_is_a_certificate(tmp_path):
    der = subprocess.run(["openssl", "x509", "-outform", "DER"], input=_pem(), capture_output=True, check=True).stdout
    (tmp_path / "corp-root").write_bytes(der)
    text = """FROM ubuntu:24.04
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates
COPY corp-root /usr/local/share/ca-certificates/corp-root
RUN update-ca-certificates
"""
    findings, _ = lint_text(text, str(tmp_path / "Dockerfile"), LintOptions(context_dir=str(tmp_path)))
    assert [f.rule for f in findings if f.rule == "IL220"] == ["IL220"]


def test_links_out_of_the_context_are_not_followed(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.pem").write_bytes(_pem())
    ctx = tmp_path / "ctx"
    (ctx / "certs").mkdir(parents=True)
    os.symlink(outside / "secret.pem", ctx / "certs" / "secret.pem")
    text = """FROM debian:12
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates
COPY certs/ /usr/local/share/ca-certificates/
RUN update-ca-certificates
"""
    findings, _ = lint_text(text, str(ctx / "Dockerfile"), LintOptions(context_dir=str(ctx)))
    assert not [f for f in findings if f.rule == "IL220"]


def test_full_bundle_in_context_is_not_an_overwrite_single_ca_is(tmp_path):
    (tmp_path / "bundle.crt").write_bytes((ROOT / "fixtures/lint/ca-context/full-bundle.pem").read_bytes())
    (tmp_path / "corp.crt").write_bytes(_pem())
    text = "FROM alpine:3.20\nCOPY {src} /etc/ssl/certs/ca-certificates.crt\n"
    for src, expected in (("bundle.crt", []), ("corp.crt", ["IL230"])):
        findings, _ = lint_text(text.format(src=src), str(tmp_path / "Dockerfile"), LintOptions(context_dir=str(tmp_path)))
        assert [f.rule for f in findings if f.rule.startswith("IL23")] == expected, src


# --- across stages --------------------------------------------------------------------------------------

def test_ca_lost_quiet_when_shipped_runs_nothing_and_copies_no_binary():
    text = """FROM debian:12 AS build
RUN apt-get update && apt-get install -y ca-certificates
COPY corp.crt /usr/local/share/ca-certificates/
RUN update-ca-certificates
FROM nginx:1.27
COPY --from=build /src/public /usr/share/nginx/html
"""
    assert "IL401" not in ids(text)


def test_ca_lost_when_bundle_copied_from_an_unrelated_stage():
    text = """FROM debian:12 AS certs
RUN apt-get update && apt-get install -y ca-certificates
FROM debian:12 AS build
RUN apt-get update && apt-get install -y ca-certificates
COPY corp.crt /usr/local/share/ca-certificates/
RUN update-ca-certificates && make
FROM gcr.io/distroless/base-debian12
COPY --from=certs /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /src/app /app
ENTRYPOINT ["/app"]
"""
    # The copied bundle comes from a stage that never saw the CA.
    assert "IL401" in ids(text)
    # ...unless that stage registers it too.
    fixed = text.replace("FROM debian:12 AS certs\nRUN apt-get update && apt-get install -y ca-certificates\n",
                         "FROM debian:12 AS certs\nRUN apt-get update && apt-get install -y ca-certificates\n"
                         "COPY corp.crt /usr/local/share/ca-certificates/\nRUN update-ca-certificates\n")
    assert "IL401" not in ids(fixed)


def test_no_bundle_severity_follows_https_evidence():
    base = "FROM golang:1.22 AS b\nRUN go build -o /app .\nFROM scratch\nCOPY --from=b /app /app\n"
    plain, _ = lint_text(base + 'ENTRYPOINT ["/app"]\n', "Dockerfile", LintOptions())
    tls, _ = lint_text(base + 'ENTRYPOINT ["/app", "-url", "https://example.com"]\n', "Dockerfile", LintOptions())
    assert [str(f.severity) for f in plain if f.rule == "IL402"] == ["info"]
    assert [str(f.severity) for f in tls if f.rule == "IL402"] == ["error"]


def test_no_bundle_quiet_for_distroless_and_for_targets_other_than_shipped():
    assert "IL402" not in ids('FROM golang:1.22 AS b\nFROM gcr.io/distroless/static\nCOPY --from=b /app /app\nENTRYPOINT ["/app"]\n')
    text = 'FROM scratch AS tool\nCOPY app /app\nENTRYPOINT ["/app"]\nFROM debian:12\nCMD ["bash"]\n'
    assert "IL402" not in ids(text)
    findings, _ = lint_text(text, "Dockerfile", LintOptions(target="tool"))
    assert "IL402" in {f.rule for f in findings}


# --- no placeholder in texts when the family is unknown ---------------------------------------------

PLACEHOLDER = ("the update command", "`the ", "=the system bundle", "<family>", "None")


@pytest.mark.parametrize("base", ["myorg/base:1", "scratch", "gcr.io/distroless/static-debian12", "busybox"])
def test_no_placeholder_in_texts_without_family_facts(base):
    text = (f"FROM {base}\n"
            "COPY corp.crt /etc/ssl/certs/ca-certificates.crt\n"
            "COPY corp.crt /usr/local/share/ca-certificates/corp.crt\n"
            "COPY corp.crt /etc/ssl/certs/corp.crt\n"
            "RUN cat /tmp/corp.pem >> /etc/ssl/certs/ca-certificates.crt\n"
            "COPY app /app\n"
            "RUN pip install requests\n"
            'CMD ["/app"]\n')
    findings, _ = lint_text(text, "Dockerfile", LintOptions())
    assert findings, "the Dockerfile has problems whatever the family"
    for f in findings:
        texts = [f.message] + ([f.fix.title] + [e.text for e in f.fix.edits] if f.fix else [])
        for t in texts:
            assert not any(p in t for p in PLACEHOLDER), f"{f.rule}: placeholder in {t!r}"


def test_ca_copied_over_the_bundle_is_named_in_the_il202_text():
    text = ("FROM debian:12\nRUN apt-get update && apt-get install -y ca-certificates\n"
            "COPY corp.pem /etc/ssl/certs/corp.pem\n"
            "RUN cp /etc/ssl/certs/corp.pem /etc/ssl/certs/ca-certificates.crt\n")
    findings, _ = lint_text(text, "Dockerfile", LintOptions())
    [il202] = [f for f in findings if f.rule == "IL202"]
    assert "copies it over the bundle /etc/ssl/certs/ca-certificates.crt" in il202.message
    assert "never gets it" not in il202.message
    assert [f.line for f in findings if f.rule == "IL230"] == [4]
