"""IL520-IL525 and IL501's server-key text on build contexts: server configurations and
certificates COPY'd from the context are checked as the image will hold them (the same
analysis as `scan`), a site file copied into a base image's conf.d is read on its own, keys meant
to be mounted stay quiet, and a plain Dockerfile imports neither cryptography nor crossplane."""
from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from imagelint.commands.lint import LintOptions, lint_text
from pki import make_pki

PKI = make_pki()
SERVER_RULES = {"IL520", "IL521", "IL522", "IL523", "IL524", "IL525"}


def lint_dir(tmp_path: Path, dockerfile: str, files: dict[str, bytes | str]):
    for rel, data in files.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data.encode() if isinstance(data, str) else data)
    text = textwrap.dedent(dockerfile).lstrip()
    (tmp_path / "Dockerfile").write_text(text)
    findings, _ = lint_text(text, str(tmp_path / "Dockerfile"), LintOptions(context_dir=str(tmp_path)))
    return findings


def site(cert: str, key: str, name: str = "localhost") -> str:
    return (f"server {{\n    listen 443 ssl;\n    server_name {name};\n    ssl_certificate {cert};\n"
            f"    ssl_certificate_key {key};\n}}\n")


def served(findings):
    return sorted((f.rule, f.line, f.properties.get("problem")) for f in findings if f.rule in SERVER_RULES)


def test_incident_certificate_copied_into_an_nginx_image(tmp_path):
    findings = lint_dir(tmp_path, """
        FROM nginx:1.27
        COPY orders.conf /etc/nginx/conf.d/orders.conf
        COPY tls/ /etc/nginx/tls/
        """, {"orders.conf": site("/etc/nginx/tls/orders.pem", "/run/secrets/orders.key"),
              "tls/orders.pem": PKI.expired_leaf.pem + PKI.intermediate.pem})
    assert served(findings) == [("IL521", 3, "expired"), ("IL522", 3, "short-lived")]
    expired = next(f for f in findings if f.rule == "IL521")
    assert "nginx (/etc/nginx/conf.d/orders.conf:4)" in expired.message and "validity 1 day(s)" in expired.message


def test_clean_full_chain_with_a_mounted_key_is_quiet(tmp_path):
    findings = lint_dir(tmp_path, """
        FROM nginx:1.27
        COPY orders.conf /etc/nginx/conf.d/orders.conf
        COPY fullchain.pem /etc/nginx/tls/orders.pem
        VOLUME /etc/nginx/tls/private
        """, {"orders.conf": site("/etc/nginx/tls/orders.pem", "/etc/nginx/tls/private/orders.key"),
              "fullchain.pem": PKI.leaf.pem + PKI.intermediate.pem})
    assert served(findings) == []


def test_whole_nginx_conf_relative_includes_and_a_baked_key(tmp_path):
    nginx_conf = ("events {}\nhttp {\n    include sites/*.conf;\n}\n")
    findings = lint_dir(tmp_path, """
        FROM debian:12
        RUN apt-get update && apt-get install -y nginx
        COPY nginx/ /etc/nginx/
        """, {"nginx/nginx.conf": nginx_conf,
              "nginx/sites/orders.conf": site("tls/orders.pem", "tls/orders.key"),
              "nginx/tls/orders.pem": PKI.leaf.pem, "nginx/tls/orders.key": PKI.leaf.key_pem})
    assert served(findings) == [("IL524", 3, "leaf-only")]
    (key,) = [f for f in findings if f.rule == "IL501"]
    assert key.properties["server_key_of"] == ["nginx (/etc/nginx/sites/orders.conf:5)"]
    assert "kubernetes.io/tls" in key.message


def test_key_mismatch_and_missing_files(tmp_path):
    findings = lint_dir(tmp_path, """
        FROM nginx:1.27
        COPY a.conf /etc/nginx/conf.d/a.conf
        COPY b.conf /etc/nginx/conf.d/b.conf
        COPY full.pem /etc/nginx/tls/a.pem
        COPY other.key /etc/nginx/tls/a.key
        """, {"a.conf": site("/etc/nginx/tls/a.pem", "/etc/nginx/tls/a.key"),
              "b.conf": site("/etc/nginx/tls/b.pem", "/etc/nginx/tls/b.key"),
              "full.pem": PKI.leaf.pem + PKI.intermediate.pem, "other.key": PKI.other_leaf.key_pem})
    # b.conf: its certificate and its key, both nowhere; a.conf: the wrong key.
    assert served(findings) == [("IL520", 3, "missing-file"), ("IL520", 3, "missing-file"),
                                ("IL523", 4, "key-mismatch")]
    missing = next(f for f in findings if f.rule == "IL520")
    assert str(missing.severity) == "info" and "unless the base image has it" in missing.message


def test_apache_site_enabled_with_a2ensite_and_chain_file(tmp_path):
    vhost = ("<VirtualHost *:443>\n  ServerName localhost\n  SSLEngine on\n"
             "  SSLCertificateFile /etc/ssl/orders/leaf.pem\n  SSLCertificateKeyFile /run/secrets/orders.key\n"
             "  SSLCertificateChainFile /etc/ssl/orders/chain.pem\n</VirtualHost>\n")
    files = {"orders.conf": vhost, "leaf.pem": PKI.leaf.pem, "chain.pem": PKI.intermediate.pem}
    clean = lint_dir(tmp_path / "clean", """
        FROM debian:12
        RUN apt-get update && apt-get install -y apache2 && a2enmod ssl
        COPY orders.conf /etc/apache2/sites-available/orders.conf
        RUN a2ensite orders
        COPY leaf.pem chain.pem /etc/ssl/orders/
        """, files)
    assert served(clean) == []
    broken = lint_dir(tmp_path / "broken", """
        FROM debian:12
        COPY orders.conf /etc/apache2/sites-available/orders.conf
        COPY leaf.pem /etc/ssl/orders/leaf.pem
        """, files)
    assert [(r, p) for r, _, p in served(broken)] == [("IL520", "missing-file"), ("IL524", "leaf-only")]


def test_heavy_modules_only_when_needed(tmp_path):
    """No server configuration: neither cryptography nor crossplane; an nginx site without TLS:
    crossplane's lexer, still no cryptography."""
    def modules(dockerfile: str, files: dict[str, str]) -> str:
        root = tmp_path / str(len(list(tmp_path.iterdir())))
        root.mkdir()
        for rel, data in files.items():
            (root / rel).write_text(data)
        (root / "Dockerfile").write_text(dockerfile)
        code = ("import sys; from imagelint.commands.lint import lint_paths, LintOptions; "
                f"lint_paths([{str(root / 'Dockerfile')!r}], LintOptions()); "
                "print('cryptography' in sys.modules, 'crossplane' in sys.modules)")
        return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                              cwd=Path(__file__).resolve().parents[1]).stdout.strip()

    assert modules("FROM debian:12\nCOPY app /app\n", {"app": "x"}) == "False False"
    assert modules("FROM nginx:1.27\nCOPY site.conf /etc/nginx/conf.d/site.conf\n",
                   {"site.conf": "server { listen 80; }\n"}) == "False True"
