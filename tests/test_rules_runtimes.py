"""Runtime trust rules (IL301-IL304, IL310, IL320) and trust variables (IL330, IL331) on real
Dockerfiles, with build contexts in temp dirs where the rule reads files."""
from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from pki import make_cert

from imagelint.config import Config
from imagelint.findings import Severity
from imagelint.commands.lint import LintOptions, lint_text


def lint(dockerfile: str, ctx: Path | None = None, rules=("IL3",)):
    text = textwrap.dedent(dockerfile).lstrip()
    path = str(ctx / "Dockerfile") if ctx else "/nonexistent-context/Dockerfile"
    if ctx:
        (ctx / "Dockerfile").write_text(text)
    findings, _ = lint_text(text, path, LintOptions(context_dir=str(ctx) if ctx else None, select=list(rules)), Config())
    return findings


def rules_of(findings):
    return sorted(f.rule for f in findings)


def test_java_severity_follows_scope():
    findings = lint("""
        FROM eclipse-temurin:17-jdk AS build
        COPY corp.crt /usr/local/share/ca-certificates/corp.crt
        RUN update-ca-certificates && ./mvnw -B package -DskipTests || true
        FROM eclipse-temurin:17-jre
        COPY corp.crt /usr/local/share/ca-certificates/corp.crt
        RUN update-ca-certificates
        """)
    assert [(f.rule, f.line, f.severity) for f in findings] == [("IL301", 2, Severity.WARNING),
                                                                ("IL301", 5, Severity.ERROR)]


def test_opaque_setup_script_silences_missing_step_rules():
    assert not lint("""
        FROM eclipse-temurin:17-jre
        COPY corp.crt /usr/local/share/ca-certificates/corp.crt
        COPY install-certs.sh /usr/local/bin/
        RUN update-ca-certificates && /usr/local/bin/install-certs.sh
        """)


@pytest.mark.parametrize("base,fires", [
    ("eclipse-temurin:11", True),
    ("eclipse-temurin:21-jre-alpine", True),
    ("eclipse-temurin:21-jdk-ubi9-minimal", True),
    ("amazoncorretto:21-al2023", True),
    ("maven:3.9.9-eclipse-temurin-21", True),
    ("gradle:8.10-jdk21", True),
    ("openjdk:17-slim", False),  # Debian hook keeps cacerts in sync (docker-library/official-images#5984)
    ("openjdk:21-oracle", False),  # symlinked to the ca-trust store (docker-library/openjdk#419)
    ("registry.access.redhat.com/ubi9/openjdk-21", False),
    ("debian:12", False),
])
def test_java_kind_by_base(base, fires):
    anchor = "/etc/pki/ca-trust/source/anchors" if any(k in base for k in ("ubi", "corretto", "oracle")) else "/usr/local/share/ca-certificates"
    update = "update-ca-trust" if "anchors" in anchor else "update-ca-certificates"
    findings = lint(f"""
        FROM {base}
        COPY corp.crt {anchor}/corp.crt
        RUN {update}
        """)
    assert ("IL301" in rules_of(findings)) is fires


def test_temurin_entrypoint_script_from_context(tmp_path):
    (tmp_path / "entrypoint.sh").write_text("#!/bin/sh\nexec /__cacert_entrypoint.sh \"$@\"\n")
    (tmp_path / "other.sh").write_text("#!/bin/sh\nexec java -jar /app.jar\n")
    base = """
        FROM eclipse-temurin:21-jre
        ENV USE_SYSTEM_CA_CERTS=1
        COPY {script} /entrypoint.sh
        ENTRYPOINT ["/entrypoint.sh"]
        """
    assert not lint(base.format(script="entrypoint.sh"), tmp_path)
    assert rules_of(lint(base.format(script="other.sh"), tmp_path)) == ["IL304"]


def test_requirements_file_is_evidence(tmp_path):
    (tmp_path / "requirements.txt").write_text("flask==3.0\nRequests[socks]>=2.31  # http\n")
    (tmp_path / "requirements-dev.txt").write_text("pytest\n")
    df = """
        FROM python:3.12-slim
        WORKDIR /app
        COPY corp.crt /usr/local/share/ca-certificates/corp.crt
        COPY {req} .
        RUN update-ca-certificates && pip install -r {req}
        """
    assert rules_of(lint(df.format(req="requirements.txt"), tmp_path)) == ["IL320"]
    assert not lint(df.format(req="requirements-dev.txt"), tmp_path)


def test_node_version_gates_system_ca():
    df = """
        FROM node:{tag}
        COPY corp.crt /usr/local/share/ca-certificates/corp.crt
        RUN update-ca-certificates
        ENV NODE_OPTIONS=--use-system-ca
        """
    assert rules_of(lint(df.format(tag="18-bookworm"))) == ["IL310"]
    assert "need Node v22.19+" in lint(df.format(tag="22.11"))[0].message
    assert not lint(df.format(tag="22.20-bookworm"))
    assert not lint(df.format(tag="24"))
    assert not lint(df.format(tag="lts"))


def test_env_bundle_reads_context_to_tell_bundle_from_single_ca(tmp_path):
    roots = b"".join(make_cert(f"Root {i}", ca=True).pem for i in range(8))
    (tmp_path / "corp.pem").write_bytes(make_cert("Corp Root", ca=True).pem)
    (tmp_path / "full.pem").write_bytes(roots)
    df = """
        FROM python:3.12-slim
        COPY {src} /etc/app/ca.pem
        ENV REQUESTS_CA_BUNDLE=/etc/app/ca.pem
        """
    hits = lint(df.format(src="corp.pem"), tmp_path)
    assert [(f.rule, f.severity) for f in hits] == [("IL330", Severity.ERROR)]
    assert "1 certificate" in hits[0].message
    assert not lint(df.format(src="full.pem"), tmp_path)


def test_env_bundle_scope_and_additive_variables():
    hits = lint("""
        FROM python:3.12-slim
        COPY corp.crt /usr/local/share/ca-certificates/corp.crt
        RUN update-ca-certificates
        RUN PIP_CERT=/usr/local/share/ca-certificates/corp.crt pip install flask
        ENV NODE_EXTRA_CA_CERTS=/usr/local/share/ca-certificates/corp.crt SSL_CERT_DIR=/etc/ssl/certs
        """)
    assert [(f.rule, f.line, f.severity) for f in hits] == [("IL330", 4, Severity.WARNING)]


def test_env_bundle_from_builder_stage():
    hits = lint("""
        FROM alpine:3.20 AS certs
        COPY corp.crt /usr/local/share/ca-certificates/corp.crt
        FROM python:3.12-slim
        COPY --from=certs /usr/local/share/ca-certificates/corp.crt /opt/corp.crt
        ENV AWS_CA_BUNDLE=/opt/corp.crt
        COPY --from=certs /etc/ssl/certs/ca-certificates.crt /opt/full.crt
        ENV CURL_CA_BUNDLE=/opt/full.crt
        """)
    assert [(f.rule, f.line) for f in hits] == [("IL330", 5)]


def test_env_path_missing_suggests_similar_file():
    hits = lint("""
        FROM node:20
        COPY certs/corp-root.crt /usr/local/share/ca-certificates/corp-root.crt
        RUN update-ca-certificates
        ENV NODE_EXTRA_CA_CERTS=/usr/local/share/ca-certificates/corp-root.pem
        """)
    assert [f.rule for f in hits] == ["IL331"]
    assert "did you mean /usr/local/share/ca-certificates/corp-root.crt" in hits[0].message


def test_env_path_missing_quiet_for_mounts_and_runtime_paths():
    assert not lint("""
        FROM alpine:3.20
        VOLUME /etc/corp
        ENV SSL_CERT_FILE=/etc/corp/ca.pem
        RUN --mount=type=secret,id=ca,target=/certs/ca.pem REQUESTS_CA_BUNDLE=/certs/ca.pem pip install x
        ENV NODE_EXTRA_CA_CERTS=/var/run/secrets/kubernetes.io/serviceaccount/ca.crt
        """)


def test_npmrc_from_context_with_single_ca(tmp_path):
    (tmp_path / ".npmrc").write_text("registry=https://registry.npmjs.org/\ncafile=/usr/local/share/ca-certificates/corp.crt\n")
    hits = lint("""
        FROM node:20
        COPY corp.crt /usr/local/share/ca-certificates/corp.crt
        COPY .npmrc /root/.npmrc
        RUN npm ci
        """, tmp_path)
    assert [(f.rule, f.line) for f in hits] == [("IL330", 3)]
    (tmp_path / ".npmrc").write_text("cafile=/etc/ssl/certs/ca-certificates.crt\n")
    assert not lint("""
        FROM node:20
        COPY .npmrc /root/.npmrc
        """, tmp_path)
