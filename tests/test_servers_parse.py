"""The configuration readers on their own (servers/): grammar corners of nginx, Apache httpd,
HAProxy and Caddy, read through a view of a temp root (HostView), never the real /etc."""
from __future__ import annotations

from pathlib import Path

from imagelint.fs.host import HostView
from imagelint.servers import find_servers
from imagelint.servers.apache import logical_lines, split_words
from imagelint.servers.haproxy import split_line


def view_of(tmp_path: Path, files: dict[str, str], links: dict[str, str] | None = None) -> HostView:
    for rel, text in files.items():
        path = tmp_path / rel.lstrip("/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    for rel, target in (links or {}).items():
        path = tmp_path / rel.lstrip("/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.symlink_to(target)
    return HostView(str(tmp_path))


def endpoints(view, **kw):
    return [(e.server, e.cert_file, e.key_file, e.chain_file, e.names, e.line)
            for config in find_servers(view, **kw) for e in config.endpoints]


def test_nginx_inheritance_shared_ssl_port_and_legacy_ssl_on(tmp_path):
    view = view_of(tmp_path, {"/etc/nginx/nginx.conf": """
events {}
http {
    ssl_certificate     tls/default.pem;   # relative to the prefix, inherited
    ssl_certificate_key tls/default.key;
    server { listen 443 ssl; server_name a.test; }
    server { listen 443; server_name b.test; }            # same port: TLS too
    server { listen 8443; ssl on; server_name c.test;
             ssl_certificate /srv/c.pem; ssl_certificate_key /srv/c.key;
             ssl_certificate /srv/c-ecdsa.pem; ssl_certificate_key /srv/c-ecdsa.key; }
    server { listen 80; server_name plain.test; }
    server { listen 443 ssl; server_name dyn.test; ssl_certificate $ssl_server_name.pem; ssl_certificate_key k; }
}
stream { server { listen 5443 ssl; ssl_certificate /srv/s.pem; ssl_certificate_key /srv/s.key; } }
"""})
    found = endpoints(view)
    assert [(cert, names) for _, cert, _, _, names, _ in found] == [
        ("/etc/nginx/tls/default.pem", ("a.test",)), ("/etc/nginx/tls/default.pem", ("b.test",)),
        ("/srv/c.pem", ("c.test",)), ("/srv/c-ecdsa.pem", ("c.test",)), ("/srv/s.pem", ())]
    assert found[3][2] == "/srv/c-ecdsa.key"
    (config,) = find_servers(view)
    assert any("chosen at run time" in n for n in config.notes)


def test_apache_grammar(tmp_path):
    assert split_words('SSLCertificateFile "/etc/ssl/my dir/a.pem" \'b c\' d\\"e') == [
        "SSLCertificateFile", "/etc/ssl/my dir/a.pem", "b c", 'd\\"e']
    assert list(logical_lines("# comment\nServerName \\\n   a.test\n  \n<VirtualHost *:443>\n")) == [
        (2, "ServerName a.test"), (5, "<VirtualHost *:443>")]
    view = view_of(tmp_path, {
        "/etc/httpd/conf/httpd.conf": 'ServerRoot "/etc/httpd"\nServerName main.test\n'
                                      "Include conf.modules.d/*.conf\nIncludeOptional conf.d/*.conf\n"
                                      "IncludeOptional nowhere/*.conf\n",
        "/etc/httpd/conf.modules.d/00-ssl.conf": "LoadModule ssl_module modules/mod_ssl.so\n",
        "/etc/httpd/conf.d/ssl.conf": "<IfModule mod_ssl.c>\n<VirtualHost _default_:443>\n"
                                      "SSLEngine on\nServerAlias alias.test\n"
                                      "SSLCertificateFile /etc/pki/tls/certs/localhost.crt\n"
                                      "SSLCertificateKeyFile /etc/pki/tls/private/localhost.key\n"
                                      "</VirtualHost>\n</IfModule>\n"
                                      "<IfDefine NOPE>\n<VirtualHost *:8443>\nSSLEngine on\n"
                                      "SSLCertificateFile /never.pem\n</VirtualHost>\n</IfDefine>\n",
    })
    assert endpoints(view) == [("apache", "/etc/pki/tls/certs/localhost.crt", "/etc/pki/tls/private/localhost.key",
                                None, ("main.test", "alias.test"), 5)]


def test_apache_include_without_match_and_unclosed_section_are_fatal(tmp_path):
    view = view_of(tmp_path, {"/etc/apache2/apache2.conf": "Include missing/*.conf\n<VirtualHost *:443>\n"})
    (config,) = find_servers(view)
    assert len(config.fatal) == 2 and all("httpd will not start" in f for f in config.fatal)


def test_haproxy_grammar_crt_list_and_directory(tmp_path):
    assert split_line('bind :443 ssl crt "/a b.pem" # comment') == ["bind", ":443", "ssl", "crt", "/a b.pem"]
    assert split_line("bind :443 ssl crt ${CERTS}/x.pem", {"CERTS": "/c"}) == ["bind", ":443", "ssl", "crt", "/c/x.pem"]
    view = view_of(tmp_path, {
        "/etc/haproxy/haproxy.cfg": "global\n  crt-base /etc/haproxy/certs\n  ssl-load-extra-del-ext\n"
                                    "frontend f\n  bind :443 ssl crt dir crt-list /etc/haproxy/list.txt\n"
                                    "  bind :80\nbackend b\n  server s 127.0.0.1:80 ssl crt /not/a/bind.pem\n",
        "/etc/haproxy/list.txt": "# comment\nsite.crt [alpn h2 ocsp-update on] a.test !b.test *.c.test\n",
        "/etc/haproxy/certs/dir/one.pem": "x", "/etc/haproxy/certs/dir/one.pem.key": "k",
        "/etc/haproxy/certs/dir/two.crt": "x", "/etc/haproxy/certs/dir/two.ocsp": "o",
        "/etc/haproxy/certs/site.crt": "x",
    })
    found = [(cert, names) for _, cert, _, _, names, _ in endpoints(view)]
    assert found == [("/etc/haproxy/certs/dir/one.pem", ()), ("/etc/haproxy/certs/dir/two.crt", ()),
                     ("/etc/haproxy/certs/site.crt", ("a.test", "*.c.test"))]
    (config,) = find_servers(view)
    assert config.endpoints[1].key_candidates == ("/etc/haproxy/certs/dir/two.key",)


def test_caddy_global_options_single_site_and_env(tmp_path):
    view = view_of(tmp_path, {"/etc/caddy/Caddyfile": "{\n\temail ops@example.com\n}\n"
                                                       "orders.test:8443, api.test {\n\ttls {$CERTS:/c}/o.pem /c/o.key\n"
                                                       "\troute {\n\t\trespond ok\n\t}\n}\n"
                                                       "auto.test {\n\ttls internal\n}\n"})
    assert endpoints(view, env={}) == [("caddy", "/c/o.pem", "/c/o.key", None, ("orders.test", "api.test"), 5)]
    single = view_of(tmp_path / "single", {"/etc/caddy/Caddyfile": "localhost:8443\ntls cert.pem key.pem\n"})
    assert endpoints(single, cwd="/srv") == [("caddy", "/srv/cert.pem", "/srv/key.pem", None, ("localhost",), 2)]


def test_tomcat_server_xml(tmp_path):
    xml = """<?xml version="1.0"?>
<Server port="-1"><Service name="Catalina">
  <Connector port="8080"/>
  <Connector port="8443" SSLEnabled="true">
    <SSLHostConfig hostName="orders.test">
      <Certificate certificateFile="${catalina.base}/conf/tls/o.pem" certificateKeyFile="conf/tls/o.key"
                   certificateChainFile="/etc/tls/chain.pem" type="RSA"/>
    </SSLHostConfig>
    <SSLHostConfig>
      <Certificate certificateKeystoreFile="conf/ks.p12" certificateKeystorePassword="pw" certificateKeyAlias="tomcat"/>
    </SSLHostConfig>
  </Connector>
</Service></Server>
"""
    view = view_of(tmp_path, {"/usr/local/tomcat/conf/server.xml": xml})
    (config,) = find_servers(view)
    first, second = config.endpoints
    assert (first.cert_file, first.key_file, first.chain_file, first.names, first.line) == (
        "/usr/local/tomcat/conf/tls/o.pem", "/usr/local/tomcat/conf/tls/o.key", "/etc/tls/chain.pem",
        ("orders.test",), 6)
    assert (second.cert_file, second.keystore_password, second.keystore_alias, second.names) == (
        "/usr/local/tomcat/conf/ks.p12", "pw", "tomcat", ())


def test_tomcat_hostile_xml_is_one_line(tmp_path):
    laughs = ('<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa">'
              + "".join(f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">' for i in range(9))
              + ']><Server>&j;</Server>')
    external = '<?xml version="1.0"?><!DOCTYPE s [<!ENTITY x SYSTEM "file:///etc/passwd">]><Server>&x;</Server>'
    for text in (laughs, external, "<Server><Service>", "not xml at all"):
        view = view_of(tmp_path / str(abs(hash(text))), {"/etc/tomcat10/server.xml": text})
        (config,) = find_servers(view)
        assert config.endpoints == []
        assert all("\n" not in line for line in config.fatal + config.notes)
