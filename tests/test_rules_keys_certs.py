"""IL501 (private keys) and IL510 (certificate problems) against real build contexts in temp dirs.

Certificates are generated here (tests/pki.py); key files hold fake text, never real keys.
"""
from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from pki import make_cert

from imagelint.config import Config
from imagelint.commands.lint import LintOptions, lint_text

FAKE_KEY = b"-----BEGIN PRIVATE KEY-----\nVGVzdCBmaXh0dXJlIC0gbm90IGEgcmVhbCBrZXk=\n-----END PRIVATE KEY-----\n"
UTC = dt.timezone.utc


def lint_dir(ctx: Path, dockerfile: str, rules=("IL5",), config: Config | None = None):
    text = textwrap.dedent(dockerfile).lstrip()
    (ctx / "Dockerfile").write_text(text)
    findings, _ = lint_text(text, str(ctx / "Dockerfile"), LintOptions(context_dir=str(ctx), select=list(rules)),
                            config or Config())
    return findings


def test_expiring_within_configured_days(tmp_path):
    now = dt.datetime.now(UTC)
    soon = make_cert("Soon Root", ca=True, not_before=now - dt.timedelta(days=300), not_after=now + dt.timedelta(days=10))
    (tmp_path / "soon.crt").write_bytes(soon.pem)
    df = """
        FROM alpine:3.20
        RUN apk add --no-cache ca-certificates
        COPY soon.crt /usr/local/share/ca-certificates/soon.crt
        RUN update-ca-certificates
        """
    hits = [f for f in lint_dir(tmp_path, df) if f.rule == "IL510"]
    assert len(hits) == 1 and hits[0].properties["problem"] == "expiring"
    assert "expires in" in hits[0].message and "SHA-256" in hits[0].message and "CN=Soon Root" in hits[0].message
    assert not [f for f in lint_dir(tmp_path, df, config=Config(cert_expiry_days=5)) if f.rule == "IL510"]


def test_message_has_fingerprint_never_key_bytes(tmp_path):
    root = make_cert("Keyed Root", ca=True)
    (tmp_path / "bundle.crt").write_bytes(root.pem + root.key_pem)
    hits = lint_dir(tmp_path, """
        FROM debian:12
        COPY bundle.crt /usr/local/share/ca-certificates/bundle.crt
        """)
    problems = {f.properties.get("problem") for f in hits if f.rule == "IL510"}
    assert "private-key" in problems
    assert any(f.rule == "IL501" for f in hits)
    body = b"".join(root.key_pem.split(b"\n")[1:3]).decode()
    assert all(body[:20] not in f.message for f in hits)


def test_symlink_out_of_context_is_not_followed(tmp_path):
    outside = tmp_path / "outside"
    ctx = tmp_path / "ctx"
    outside.mkdir()
    ctx.mkdir()
    expired = make_cert("Outside Root", ca=True, not_before=dt.datetime(2019, 1, 1, tzinfo=UTC),
                        not_after=dt.datetime(2020, 1, 1, tzinfo=UTC))
    (outside / "old.crt").write_bytes(expired.pem)
    (outside / "id_rsa").write_bytes(FAKE_KEY)
    os.symlink(outside / "old.crt", ctx / "old.crt")
    os.symlink(outside, ctx / "linked")
    hits = lint_dir(ctx, """
        FROM debian:12
        COPY old.crt /usr/local/share/ca-certificates/old.crt
        COPY linked/ /opt/linked/
        """)
    assert not [f for f in hits if f.rule == "IL510"]
    assert not [f for f in hits if f.rule == "IL501"]


def test_dockerignore_and_globs(tmp_path):
    (tmp_path / "certs").mkdir()
    (tmp_path / "certs" / "a.crt").write_bytes(make_cert("A", dns=("a.test",)).pem)  # a leaf
    (tmp_path / "certs" / "b.crt").write_bytes(make_cert("B Root", ca=True).pem)
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "tls.pem").write_bytes(FAKE_KEY)
    df = """
        FROM debian:12
        COPY certs/*.crt /usr/local/share/ca-certificates/
        COPY keys /etc/keys
        """
    hits = lint_dir(tmp_path, df)
    assert [f.properties["problem"] for f in hits if f.rule == "IL510"] == ["self-signed-leaf"]
    assert any(f.rule == "IL501" and "keys/tls.pem" in f.message for f in hits)
    (tmp_path / ".dockerignore").write_text("keys/\ncerts/a.crt\n")
    hits = lint_dir(tmp_path, df)
    assert not hits


def test_keytool_multi_cert_and_bom(tmp_path):
    root = make_cert("Multi Root", ca=True)
    inter = make_cert("Multi Int", issuer=root, ca=True)
    (tmp_path / "chain.pem").write_bytes(inter.pem + root.pem)
    (tmp_path / "bom.pem").write_bytes(b"\xef\xbb\xbf" + root.pem)
    hits = lint_dir(tmp_path, """
        FROM eclipse-temurin:21-jre
        COPY chain.pem /tmp/chain.pem
        COPY bom.pem /tmp/bom.pem
        RUN keytool -importcert -noprompt -cacerts -storepass changeit -alias a -file /tmp/chain.pem \\
         && keytool -importcert -noprompt -cacerts -storepass changeit -alias b -file /tmp/bom.pem
        """)
    problems = sorted(f.properties["problem"] for f in hits if f.rule == "IL510")
    assert problems == ["multiple-certs", "utf8-bom"]


def test_generated_keys_copied_into_shipped_stage(tmp_path):
    hits = lint_dir(tmp_path, """
        FROM alpine:3.20 AS keys
        RUN apk add --no-cache openssh-keygen openssl \\
         && ssh-keygen -t ed25519 -N '' -f /out/deploy_key \\
         && openssl req -x509 -newkey rsa:2048 -nodes -keyout /out/tls/key -out /out/tls/cert -subj /CN=x
        FROM alpine:3.20
        COPY --from=keys /out/deploy_key.pub /etc/ssh/deploy_key.pub
        COPY --from=keys /out/tls/cert /etc/tls/cert
        COPY --from=keys /out/deploy_key /etc/ssh/deploy_key
        COPY --from=keys /out/tls /etc/tls
        """)
    lines = sorted(f.line for f in hits if f.rule == "IL501")
    assert lines == [8, 9]


def test_key_in_unshipped_builder_is_quiet(tmp_path):
    (tmp_path / "id_rsa").write_bytes(FAKE_KEY)
    hits = lint_dir(tmp_path, """
        FROM alpine:3.20 AS fetch
        COPY id_rsa /root/.ssh/id_rsa
        RUN git clone git@example.com:org/repo.git /src
        FROM alpine:3.20
        COPY --from=fetch /src /src
        """)
    assert not hits


def test_truststore_keystore_without_keys_is_not_a_key(tmp_path):
    """A PKCS#12 file the context shows holds only certificates is a trust store, not key material."""
    from cryptography.hazmat.primitives.serialization import NoEncryption, pkcs12

    root = make_cert("Store Root", ca=True)
    data = pkcs12.serialize_java_truststore([pkcs12.PKCS12Certificate(root.cert, b"root")], NoEncryption())
    (tmp_path / "app.p12").write_bytes(data)
    withkey = pkcs12.serialize_key_and_certificates(b"k", root.key, root.cert, None, NoEncryption())
    (tmp_path / "client.p12").write_bytes(withkey)
    hits = lint_dir(tmp_path, """
        FROM eclipse-temurin:21-jre
        COPY app.p12 /app/app.p12
        COPY client.p12 /app/client.p12
        """)
    assert [f.line for f in hits if f.rule == "IL501"] == [3]


def test_lint_without_cert_files_does_not_import_cryptography(tmp_path):
    (tmp_path / "Dockerfile").write_text("FROM debian:12\nCOPY app /app\nRUN echo hi\n")
    code = ("import sys; from imagelint.commands.lint import lint_paths, LintOptions; "
            f"lint_paths([{str(tmp_path / 'Dockerfile')!r}], LintOptions()); "
            "print('cryptography' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[1])
    assert out.stdout.strip() == "False"
