"""Apache Tomcat 9/10: the certificates each TLS `<Connector SSLEnabled="true">` presents.

From Tomcat's docs ("SSL/TLS Configuration How-To", the HTTP Connector's SSLHostConfig and
Certificate elements): every `<SSLHostConfig hostName=…>` (default `_default_`) holds one or more
`<Certificate>`; each either names PEM files (`certificateFile`, then `certificateKeyFile` — without
it the key is read from `certificateFile` — and `certificateChainFile`) or a keystore
(`certificateKeystoreFile`, `certificateKeystorePassword` default `changeit`,
`certificateKeyAlias`). Relative paths are relative to CATALINA_BASE; `${catalina.base}` and
`${catalina.home}` are replaced. server.xml is read with expat: no external entity is fetched, no
DTD parameter entity parsed.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..fs import FileView
from .common import Budget, ServerConfig, TLSEndpoint, absolute, is_file, read_config_text

# server.xml -> CATALINA_BASE
MAIN_CONFIGS = {
    "/usr/local/tomcat/conf/server.xml": "/usr/local/tomcat",  # the official tomcat image
    "/etc/tomcat10/server.xml": "/var/lib/tomcat10",  # Debian, Ubuntu
    "/etc/tomcat9/server.xml": "/var/lib/tomcat9",
    "/opt/bitnami/tomcat/conf/server.xml": "/opt/bitnami/tomcat",
}
CATALINA_HOME = {"/var/lib/tomcat10": "/usr/share/tomcat10", "/var/lib/tomcat9": "/usr/share/tomcat9"}
MAX_ELEMENTS = 20000


@dataclass
class Element:
    tag: str
    attrs: dict[str, str]
    line: int
    children: list["Element"] = field(default_factory=list)

    def all(self, tag: str) -> list["Element"]:
        return [c for c in self.children if c.tag == tag]


def parse_xml(text: str, path: str) -> Element:
    """A small element tree with line numbers; ValueError on malformed or oversized XML."""
    from xml.parsers import expat

    parser = expat.ParserCreate()
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    root = Element("#document", {}, 0)
    stack = [root]
    count = 0

    def start(tag, attrs):
        nonlocal count
        count += 1
        if count > MAX_ELEMENTS:
            raise ValueError(f"more than {MAX_ELEMENTS} elements")
        element = Element(tag, dict(attrs), parser.CurrentLineNumber)
        stack[-1].children.append(element)
        stack.append(element)

    def end(tag):
        stack.pop()

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.ExternalEntityRefHandler = lambda *args: 1  # never fetched: treated as empty
    try:
        parser.Parse(text, True)
    except expat.ExpatError as exc:
        raise ValueError(f"{path}:{exc.lineno}: not well-formed XML ({expat.errors.messages.get(exc.code, exc)})") from None
    return root


def _properties(value: str, base: str, home: str) -> str:
    return value.replace("${catalina.base}", base).replace("${catalina.home}", home)


def read_tomcat(view: FileView, main: str, base: str) -> ServerConfig:
    config = ServerConfig("tomcat", main)
    budget = Budget(config)
    text = read_config_text(view, main, config) if budget.take_file(main) else None
    if text is None:
        return config
    try:
        document = parse_xml(text, main)
    except ValueError as exc:
        config.fatal.append(f"{exc}: Tomcat will not start")
        return config
    home = CATALINA_HOME.get(base, base)

    def path_of(value: str | None) -> str | None:
        return absolute(_properties(value, base, home), base) if value else None

    servers = [e for e in document.children if e.tag == "Server"]
    for server in servers:
        for service in server.all("Service"):
            for connector in service.all("Connector"):
                if connector.attrs.get("SSLEnabled", "false").lower() != "true":
                    continue
                port = connector.attrs.get("port", "")
                address = connector.attrs.get("address", "*")
                hosts = connector.all("SSLHostConfig")
                if not hosts:
                    config.fatal.append(f"{main}:{connector.line}: SSLEnabled connector without SSLHostConfig: "
                                        "its TLS connector does not start")
                for host in hosts:
                    name = host.attrs.get("hostName", "_default_")
                    names = () if name == "_default_" else (name,)
                    for cert in host.all("Certificate"):
                        attrs = cert.attrs
                        keystore = path_of(attrs.get("certificateKeystoreFile"))
                        cert_file = path_of(attrs.get("certificateFile")) or keystore
                        if cert_file is None:
                            config.fatal.append(f"{main}:{cert.line}: <Certificate> names neither certificateFile "
                                                "nor certificateKeystoreFile")
                            continue
                        budget.add_endpoint(TLSEndpoint(
                            server="tomcat", config=main, line=cert.line, cert_file=cert_file,
                            key_file=None if keystore else path_of(attrs.get("certificateKeyFile")),
                            chain_file=None if keystore else path_of(attrs.get("certificateChainFile")),
                            names=names, listen=(f"{address}:{port}",), key_config_line=cert.line,
                            directive="certificateKeystoreFile" if keystore else "certificateFile",
                            keystore_password=attrs.get("certificateKeystorePassword", "changeit") if keystore else None,
                            keystore_alias=attrs.get("certificateKeyAlias") if keystore else None))
    return config


def find_tomcat(view: FileView) -> list[ServerConfig]:
    return [read_tomcat(view, main, base) for main, base in MAIN_CONFIGS.items() if is_file(view, main)]
