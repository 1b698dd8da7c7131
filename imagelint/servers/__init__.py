"""TLS servers configured inside a filesystem view (an image, a build context's predicted result):
which certificate, key and chain files each endpoint presents, read from nginx, Apache httpd,
HAProxy, Caddy and Tomcat configurations. `find_servers(view)` reads every configuration found at the
distributions' and official images' standard places; `endpoint_problems` checks what one endpoint serves."""
from __future__ import annotations

from ..fs import FileView
from .apache import MAIN_CONFIGS as APACHE_MAINS, find_apache
from .caddy import MAIN_CONFIGS as CADDY_MAINS, find_caddy
from .common import ServerConfig, TLSEndpoint
from .haproxy import MAIN_CONFIGS as HAPROXY_MAINS, find_haproxy
from .nginx import MAIN_CONFIGS as NGINX_MAINS, find_nginx
from .tomcat import MAIN_CONFIGS as TOMCAT_MAINS, find_tomcat

# Directories whose files the readers may read (kept when an image's layers stream past): the
# standard configuration trees. Files named elsewhere (includes, certificates) are read again.
CONFIG_PREFIXES = tuple(sorted({m.rsplit("/", 1)[0] + "/" for m in (*NGINX_MAINS, *APACHE_MAINS, *HAPROXY_MAINS, *CADDY_MAINS,
                                                          *TOMCAT_MAINS)}
                               | {"/etc/nginx/", "/etc/apache2/", "/etc/httpd/", "/etc/haproxy/"}))
MAX_KEPT_CONFIG_BYTES = 256 * 1024


def find_servers(view: FileView, cwd: str = "/", env: dict[str, str] | None = None,
                 fragments: bool = False) -> list[ServerConfig]:
    """Every nginx, Apache and HAProxy configuration of the view, with its TLS endpoints. With
    `fragments` (a Dockerfile's predicted files over an unknown base image), site files whose
    main configuration the view lacks are read on their own."""
    return [*find_nginx(view, fragments), *find_apache(view, fragments), *find_haproxy(view, cwd or "/", env),
            *find_caddy(view, cwd or "/", env), *find_tomcat(view)]


def is_server_config(path: str, size: int) -> bool:
    """Whether a file belongs to a standard server configuration tree (small enough to keep)."""
    return size <= MAX_KEPT_CONFIG_BYTES and path.startswith(CONFIG_PREFIXES)


__all__ = ["CONFIG_PREFIXES", "ServerConfig", "TLSEndpoint", "find_servers", "is_server_config"]
