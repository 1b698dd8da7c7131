"""Resource caps for reading untrusted images: a layer must not be able to exhaust memory or disk."""
from __future__ import annotations

from dataclasses import dataclass

KIB = 1024
MIB = 1024 * KIB
GIB = 1024 * MIB


@dataclass(frozen=True)
class Limits:
    # Uncompressed bytes across all layers of one image.
    max_total_bytes: int = 32 * GIB
    # Uncompressed/compressed ratio of one layer; checked once the layer passed ratio_floor_bytes,
    # because small layers of empty files legitimately compress a hundredfold.
    max_expansion_ratio: float = 200.0
    ratio_floor_bytes: int = 64 * MIB
    # Tar entries across all layers (metadata of each is kept in memory).
    max_entries: int = 2_000_000
    # Contents kept in memory (trust stores, keys, os-release...): per file and in total.
    max_kept_file_bytes: int = 32 * MIB
    max_kept_total_bytes: int = 512 * MIB
    # Manifests, indexes, configs and manifest.json are read whole.
    max_metadata_bytes: int = 8 * MIB


DEFAULT_LIMITS = Limits()
