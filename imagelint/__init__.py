"""imagelint: find and fix TLS trust-store problems in Dockerfiles and container images."""

__version__ = "0.1.0"
