"""Planted TLS server configurations (no tests here): each scenario is a set of files for nginx,
Apache httpd or HAProxy with `{root}` and `{port}` placeholders, what imagelint must predict for
it, and what the real server must do with it. The same files go into a test image (root "") and
into a temp directory a real Debian server runs from (root = that directory), so a prediction is
checked against the server itself.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from pki import DAY, NOW, PKI, make_cert

APACHE_MODULES = "/usr/lib/apache2/modules"


@dataclass
class Scenario:
    name: str
    server: str  # nginx | apache | haproxy
    files: dict[str, bytes | str]  # path (with {root}) -> contents (str ones are templates)
    expect: set[tuple[str, str]]  # (rule, problem) imagelint reports
    # What the real server does: "starts" or the text its failed start prints; and, when it
    # starts, the OpenSSL verify code a client trusting the root gets (s_client -verify_return_error).
    starts: bool = True
    refusal: str = ""
    verify_code: int | None = 0  # None: not asserted (which certificate SNI picks is the server's choice)
    sni: str = "localhost"
    handshake_fails: bool = False  # Tomcat starts with a key that is not the certificate's; handshakes fail
    links: dict[str, str] = field(default_factory=dict)  # path -> link target

    def rendered(self, root: str, port: int) -> dict[str, bytes]:
        out = {}
        for path, data in self.files.items():
            if isinstance(data, str):
                data = data.replace("{root}", root).replace("{port}", str(port)).encode()
            out[path.replace("{root}", root)] = data
        return out


# --------------------------------------------------------------------------- nginx

def nginx_main() -> str:
    # Debian's layout: conf.d/*.conf and sites-enabled/* included from http {}.
    return """user nobody nogroup;
worker_processes 1;
pid {root}/run/nginx.pid;
error_log {root}/var/log/nginx/error.log;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path {root}/var/lib/nginx/body;
    proxy_temp_path {root}/var/lib/nginx/proxy;
    fastcgi_temp_path {root}/var/lib/nginx/fastcgi;
    uwsgi_temp_path {root}/var/lib/nginx/uwsgi;
    scgi_temp_path {root}/var/lib/nginx/scgi;
    include {root}/etc/nginx/conf.d/*.conf;
    include {root}/etc/nginx/sites-enabled/*;
}
"""


def nginx_site(cert: str, key: str, name: str = "localhost") -> str:
    return f"""server {{
    listen 127.0.0.1:{{port}} ssl;
    server_name {name};
    ssl_certificate     {cert};
    ssl_certificate_key {key};
    location / {{ return 200 "ok"; }}
}}
"""


def nginx_scenarios(pki: PKI) -> list[Scenario]:
    tls = "{root}/etc/nginx/tls"

    def scenario(name, files, expect, site=None, **kw):
        site = site or nginx_site(f"{tls}/server.pem", f"{tls}/server.key")
        base = {"{root}/etc/nginx/nginx.conf": nginx_main(), "{root}/etc/nginx/sites-available/orders": site,
                "{root}/etc/nginx/conf.d/.keep": b"", "{root}/var/log/nginx/.keep": b"",
                "{root}/var/lib/nginx/.keep": b"", "{root}/run/.keep": b""}
        return Scenario(name, "nginx", {**base, **files}, expect,
                        links={"{root}/etc/nginx/sites-enabled/orders": "../sites-available/orders"}, **kw)

    full = pki.leaf.pem + pki.intermediate.pem
    return [
        scenario("clean-full-chain", {f"{tls}/server.pem": full, f"{tls}/server.key": pki.leaf.key_pem}, set()),
        scenario("incident-expired-1-day", {f"{tls}/server.pem": pki.expired_leaf.pem + pki.intermediate.pem,
                                            f"{tls}/server.key": pki.expired_leaf.key_pem},
                 {("IL802", "expired"), ("IL803", "short-lived")}, verify_code=10),
        scenario("leaf-only", {f"{tls}/server.pem": pki.leaf.pem, f"{tls}/server.key": pki.leaf.key_pem},
                 {("IL805", "leaf-only")}, verify_code=20),
        scenario("key-mismatch", {f"{tls}/server.pem": full, f"{tls}/server.key": pki.other_leaf.key_pem},
                 {("IL804", "key-mismatch")}, starts=False, refusal="key values mismatch"),
        scenario("leaf-not-first", {f"{tls}/server.pem": pki.intermediate.pem + pki.leaf.pem,
                                    f"{tls}/server.key": pki.leaf.key_pem},
                 {("IL804", "leaf-not-first")}, starts=False, refusal="key values mismatch"),
        scenario("certificate-missing", {f"{tls}/server.key": pki.leaf.key_pem},
                 {("IL801", "missing-file")}, starts=False, refusal="cannot load certificate"),
        scenario("key-missing", {f"{tls}/server.pem": full}, {("IL801", "missing-file")}, starts=False,
                 refusal="cannot load certificate key"),
        scenario("no-certificate-directive", {}, {("IL801", "config-error")}, starts=False,
                 refusal='no "ssl_certificate" is defined for the "listen ... ssl" directive',
                 site='server {\n    listen 127.0.0.1:{port} ssl;\n    server_name localhost;\n}\n'),
        scenario("san-mismatch", {f"{tls}/server.pem": pki.wrong_host_leaf.pem + pki.intermediate.pem,
                                  f"{tls}/server.key": pki.wrong_host_leaf.key_pem},
                 {("IL806", "no-san-match")}, verify_code=62),
        # The certificate named relative to the prefix (/etc/nginx), the site in conf.d.
        scenario("relative-paths-conf-d", {
            "{root}/etc/nginx/conf.d/orders.conf": nginx_site("tls/server.pem", "tls/server.key"),
            f"{tls}/server.pem": pki.leaf.pem, f"{tls}/server.key": pki.leaf.key_pem},
            {("IL805", "leaf-only")}, site="# disabled\n", verify_code=20),
    ]


# --------------------------------------------------------------------------- Apache httpd

def apache_main() -> str:
    return f"""ServerRoot "{{root}}/etc/apache2"
PidFile {{root}}/run/apache2.pid
ErrorLog {{root}}/var/log/apache2/error.log
LogLevel warn
User nobody
Group nogroup
ServerName localhost
Mutex file:{{root}}/run default
LoadModule mpm_event_module {APACHE_MODULES}/mod_mpm_event.so
LoadModule authz_core_module {APACHE_MODULES}/mod_authz_core.so
IncludeOptional mods-enabled/*.load
Include ports.conf
IncludeOptional sites-enabled/*.conf
"""


def apache_site(cert: str, key: str | None, chain: str | None = None, name: str = "localhost") -> str:
    lines = [f"<VirtualHost 127.0.0.1:{{port}}>", f"    ServerName {name}", "    SSLEngine on",
             f"    SSLCertificateFile {cert}"]
    if key:
        lines.append(f"    SSLCertificateKeyFile {key}")
    if chain:
        lines.append(f"    SSLCertificateChainFile {chain}")
    lines.append("</VirtualHost>")
    return "<IfModule ssl_module>\n" + "\n".join(lines) + "\n</IfModule>\n" + \
        "<IfModule !ssl_module>\n<VirtualHost 127.0.0.1:{port}>\n    SSLEngine on\n" \
        "    SSLCertificateFile /nowhere.pem\n</VirtualHost>\n</IfModule>\n"


def apache_scenarios(pki: PKI) -> list[Scenario]:
    tls = "{root}/etc/apache2/tls"

    def scenario(name, files, expect, site=None, **kw):
        site = site or apache_site(f"{tls}/server.pem", f"{tls}/server.key")
        base = {"{root}/etc/apache2/apache2.conf": apache_main(),
                "{root}/etc/apache2/ports.conf": "Listen 127.0.0.1:{port} https\n",
                "{root}/etc/apache2/mods-available/ssl.load": f"LoadModule ssl_module {APACHE_MODULES}/mod_ssl.so\n",
                "{root}/etc/apache2/sites-available/orders.conf": site,
                "{root}/var/log/apache2/.keep": b"", "{root}/run/.keep": b""}
        return Scenario(name, "apache", {**base, **files}, expect, links={
            "{root}/etc/apache2/mods-enabled/ssl.load": "../mods-available/ssl.load",
            "{root}/etc/apache2/sites-enabled/orders.conf": "../sites-available/orders.conf"}, **kw)

    full = pki.leaf.pem + pki.intermediate.pem
    return [
        scenario("clean-full-chain", {f"{tls}/server.pem": full, f"{tls}/server.key": pki.leaf.key_pem}, set()),
        scenario("clean-chain-file", {f"{tls}/server.pem": pki.leaf.pem, f"{tls}/server.key": pki.leaf.key_pem,
                                      f"{tls}/chain.pem": pki.intermediate.pem}, set(),
                 site=apache_site(f"{tls}/server.pem", f"{tls}/server.key", f"{tls}/chain.pem")),
        scenario("clean-key-in-certificate-file", {f"{tls}/server.pem": full + pki.leaf.key_pem}, set(),
                 site=apache_site(f"{tls}/server.pem", None)),
        scenario("leaf-only", {f"{tls}/server.pem": pki.leaf.pem, f"{tls}/server.key": pki.leaf.key_pem},
                 {("IL805", "leaf-only")}, verify_code=20),
        scenario("expired", {f"{tls}/server.pem": pki.expired_leaf.pem + pki.intermediate.pem,
                             f"{tls}/server.key": pki.expired_leaf.key_pem},
                 {("IL802", "expired"), ("IL803", "short-lived")}, verify_code=10),
        scenario("key-mismatch", {f"{tls}/server.pem": full, f"{tls}/server.key": pki.other_leaf.key_pem},
                 {("IL804", "key-mismatch")}, starts=False, refusal="AH02565"),
        scenario("key-missing", {f"{tls}/server.pem": full}, {("IL801", "missing-file")}, starts=False,
                 refusal="SSLCertificateKeyFile"),
        scenario("engine-without-certificate", {}, {("IL801", "config-error")}, starts=False, refusal="AH02572",
                 site="<VirtualHost 127.0.0.1:{port}>\n    ServerName localhost\n    SSLEngine on\n</VirtualHost>\n"),
        # Relative to ServerRoot.
        scenario("relative-paths", {f"{tls}/server.pem": pki.leaf.pem, f"{tls}/server.key": pki.leaf.key_pem},
                 {("IL805", "leaf-only")}, site=apache_site("tls/server.pem", "tls/server.key"), verify_code=20),
    ]


# --------------------------------------------------------------------------- HAProxy

def haproxy_config(bind: str, global_extra: str = "") -> str:
    return f"""global
    log stderr format raw local0
{global_extra}
defaults
    mode http
    timeout connect 5s
    timeout client 5s
    timeout server 5s

frontend fe
    bind 127.0.0.1:{{port}} ssl {bind}
    http-request return status 200 content-type text/plain string ok
"""


def haproxy_scenarios(pki: PKI) -> list[Scenario]:
    certs = "{root}/etc/haproxy/certs"
    main = "{root}/etc/haproxy/haproxy.cfg"
    full = pki.leaf.pem + pki.intermediate.pem

    def scenario(name, files, expect, bind=f"crt {certs}/site.pem", global_extra="", **kw):
        return Scenario(name, "haproxy", {main: haproxy_config(bind, global_extra), **files}, expect, **kw)

    return [
        scenario("clean-pem-with-key", {f"{certs}/site.pem": full + pki.leaf.key_pem}, set()),
        scenario("clean-key-beside", {f"{certs}/site.pem": full, f"{certs}/site.pem.key": pki.leaf.key_pem}, set()),
        scenario("key-nowhere", {f"{certs}/site.pem": full, f"{certs}/site.key": pki.leaf.key_pem},
                 {("IL801", "no-private-key")}, starts=False, refusal="No Private Key found"),
        scenario("crt-missing", {}, {("IL801", "missing-file")}, starts=False,
                 refusal="unable to stat SSL certificate from file"),
        scenario("leaf-only", {f"{certs}/site.pem": pki.leaf.pem + pki.leaf.key_pem}, {("IL805", "leaf-only")},
                 verify_code=20),
        scenario("expired", {f"{certs}/site.pem": pki.expired_leaf.pem + pki.intermediate.pem
                             + pki.expired_leaf.key_pem},
                 {("IL802", "expired"), ("IL803", "short-lived")}, verify_code=10),
        scenario("key-mismatch", {f"{certs}/site.pem": full + pki.other_leaf.key_pem},
                 {("IL804", "key-mismatch")}, starts=False, refusal="inconsistencies between private key and certificate"),
        scenario("crt-base-and-directory", {f"{certs}/a-site.pem": full + pki.leaf.key_pem,
                                            f"{certs}/b-site.pem": pki.leaf.pem + pki.leaf.key_pem},
                 {("IL805", "leaf-only")}, bind="crt certs", global_extra="    crt-base {root}/etc/haproxy",
                 verify_code=None),
        scenario("crt-list-sni", {f"{certs}/site.pem": full + pki.leaf.key_pem,
                                  "{root}/etc/haproxy/crt-list.txt": f"{certs}/site.pem [alpn h2] other.test\n"},
                 {("IL806", "no-san-match")}, bind="crt-list {root}/etc/haproxy/crt-list.txt", verify_code=62,
                 sni="other.test"),
    ]


# --------------------------------------------------------------------------- Caddy

def caddyfile(site: str) -> str:
    # The global options keep the real run self-contained: no admin endpoint, storage in the root.
    return "{\n\tadmin off\n\tauto_https disable_redirects\n\tstorage file_system {root}/var/lib/caddy\n}\n" + site


def caddy_site(cert: str, key: str, address: str = "localhost:{port}") -> str:
    return f"{address} {{\n\ttls {cert} {key}\n\trespond \"ok\"\n}}\n"


def caddy_scenarios(pki: PKI) -> list[Scenario]:
    tls = "{root}/etc/caddy/tls"
    main = "{root}/etc/caddy/Caddyfile"
    full = pki.leaf.pem + pki.intermediate.pem

    def scenario(name, files, expect, site=None, **kw):
        site = site or caddy_site(f"{tls}/server.pem", f"{tls}/server.key")
        return Scenario(name, "caddy", {main: caddyfile(site), "{root}/var/lib/caddy/.keep": b"", **files}, expect, **kw)

    return [
        scenario("clean-full-chain", {f"{tls}/server.pem": full, f"{tls}/server.key": pki.leaf.key_pem}, set()),
        scenario("expired", {f"{tls}/server.pem": pki.expired_leaf.pem + pki.intermediate.pem,
                             f"{tls}/server.key": pki.expired_leaf.key_pem},
                 {("IL802", "expired"), ("IL803", "short-lived")}, verify_code=10),
        scenario("leaf-only", {f"{tls}/server.pem": pki.leaf.pem, f"{tls}/server.key": pki.leaf.key_pem},
                 {("IL805", "leaf-only")}, verify_code=20),
        scenario("key-mismatch", {f"{tls}/server.pem": full, f"{tls}/server.key": pki.other_leaf.key_pem},
                 {("IL804", "key-mismatch")}, starts=False, refusal="tls: private key does not match public key"),
        scenario("leaf-not-first", {f"{tls}/server.pem": pki.intermediate.pem + pki.leaf.pem,
                                    f"{tls}/server.key": pki.leaf.key_pem},
                 {("IL804", "leaf-not-first")}, starts=False, refusal="tls: private key does not match public key"),
        scenario("certificate-missing", {f"{tls}/server.key": pki.leaf.key_pem}, {("IL801", "missing-file")},
                 starts=False, refusal="no such file or directory"),
        # A snippet imported into the site; the name in the address is not in the SANs.
        scenario("snippet-and-san-mismatch", {f"{tls}/server.pem": pki.wrong_host_leaf.pem + pki.intermediate.pem,
                                              f"{tls}/server.key": pki.wrong_host_leaf.key_pem},
                 {("IL806", "no-san-match")}, verify_code=62,
                 site=f"(tls_files) {{\n\ttls {tls}/server.pem {tls}/server.key\n}}\n"
                      "localhost:{port} {\n\timport tls_files\n\trespond \"ok\"\n}\n"),
    ]


# --------------------------------------------------------------------------- Tomcat

def tomcat_server_xml(certificate: str) -> str:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<Server port="-1" shutdown="SHUTDOWN">
  <Service name="Catalina">
    <Connector port="{{port}}" address="127.0.0.1" protocol="org.apache.coyote.http11.Http11NioProtocol"
               SSLEnabled="true" scheme="https" secure="true">
      <SSLHostConfig>
        {certificate}
      </SSLHostConfig>
    </Connector>
    <Engine name="Catalina" defaultHost="localhost">
      <Host name="localhost" appBase="webapps" unpackWARs="false" autoDeploy="false"/>
    </Engine>
  </Service>
</Server>
"""


def tomcat_scenarios(pki: PKI) -> list[Scenario]:
    from cryptography.hazmat.primitives.serialization import BestAvailableEncryption, pkcs12

    tls = "{root}/etc/tomcat10/tls"
    full = pki.leaf.pem + pki.intermediate.pem
    keystore = pkcs12.serialize_key_and_certificates(b"tomcat", pki.leaf.key, pki.leaf.cert, [pki.intermediate.cert],
                                                     BestAvailableEncryption(b"s3cret"))
    expired_store = pkcs12.serialize_key_and_certificates(b"tomcat", pki.expired_leaf.key, pki.expired_leaf.cert,
                                                          [pki.intermediate.cert], BestAvailableEncryption(b"changeit"))

    def pem(cert, key=None, chain=None):
        attrs = f'certificateFile="{cert}"' + (f' certificateKeyFile="{key}"' if key else "") + \
            (f' certificateChainFile="{chain}"' if chain else "")
        return f"<Certificate {attrs} type=\"EC\"/>"

    def scenario(name, files, expect, certificate, **kw):
        base = {"{root}/etc/tomcat10/server.xml": tomcat_server_xml(certificate),
                "{root}/etc/tomcat10/web.xml": '<web-app xmlns="https://jakarta.ee/xml/ns/jakartaee" version="5.0"/>\n',
                "{root}/var/lib/tomcat10/webapps/ROOT/.keep": b"", "{root}/var/lib/tomcat10/logs/.keep": b"",
                "{root}/var/lib/tomcat10/temp/.keep": b"", "{root}/var/lib/tomcat10/work/.keep": b""}
        return Scenario(name, "tomcat", {**base, **files}, expect,
                        links={"{root}/var/lib/tomcat10/conf": "../../../etc/tomcat10"}, **kw)

    return [
        scenario("clean-pem", {f"{tls}/server.pem": full, f"{tls}/server.key": pki.leaf.key_pem}, set(),
                 pem(f"{tls}/server.pem", f"{tls}/server.key")),
        # Relative to CATALINA_BASE (conf is Debian's link to /etc/tomcat10), key in the certificate file.
        scenario("clean-relative-key-in-file", {f"{tls}/server.pem": full + pki.leaf.key_pem}, set(),
                 pem("conf/tls/server.pem")),
        scenario("clean-pkcs12", {f"{tls}/server.p12": keystore}, set(),
                 f'<Certificate certificateKeystoreFile="{tls}/server.p12" certificateKeystorePassword="s3cret" '
                 'certificateKeystoreType="PKCS12" type="EC"/>'),
        scenario("expired-pkcs12-default-password", {f"{tls}/server.p12": expired_store},
                 {("IL802", "expired"), ("IL803", "short-lived")},
                 f'<Certificate certificateKeystoreFile="{tls}/server.p12" certificateKeystoreType="PKCS12" type="EC"/>',
                 verify_code=10),
        scenario("leaf-only-with-chain-file-missing-intermediate", {f"{tls}/server.pem": pki.leaf.pem,
                                                                    f"{tls}/server.key": pki.leaf.key_pem},
                 {("IL805", "leaf-only")}, pem(f"{tls}/server.pem", f"{tls}/server.key"), verify_code=20),
        scenario("clean-chain-file", {f"{tls}/server.pem": pki.leaf.pem, f"{tls}/server.key": pki.leaf.key_pem,
                                      f"{tls}/chain.pem": pki.intermediate.pem}, set(),
                 pem(f"{tls}/server.pem", f"{tls}/server.key", f"{tls}/chain.pem")),
        scenario("key-mismatch", {f"{tls}/server.pem": full, f"{tls}/server.key": pki.other_leaf.key_pem},
                 {("IL804", "key-mismatch")}, pem(f"{tls}/server.pem", f"{tls}/server.key"), handshake_fails=True,
                 refusal="bad signature"),
        scenario("certificate-missing", {f"{tls}/server.key": pki.leaf.key_pem}, {("IL801", "missing-file")},
                 pem(f"{tls}/server.pem", f"{tls}/server.key"), handshake_fails=True,
                 refusal="java.io.FileNotFoundException"),
    ]


def one_day_certificate(pki: PKI):
    """A 1-day certificate still valid (issued 6 h ago): short-lived, not expired."""
    return make_cert("orders-api", pki.intermediate, dns=("localhost",), ips=("127.0.0.1",),
                     not_before=NOW - DAY / 4, not_after=NOW + DAY * 3 / 4)
