"""What a manifest check receives besides the joined resources: the time, the expiry window and
`hit()`, which records the file a finding lands in (resources of one run span many files)."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone

from ...findings import Fix, Severity
from ...kube.model import Container, KubeSet, Resource
from ..registry import Hit


@dataclass
class ManifestContext:
    kset: KubeSet
    at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    expiring_days: int = 30
    paths: dict[int, str] = field(default_factory=dict)  # id(hit) -> file

    def hit(self, rule: str, message: str, resource: Resource, line: int | None = None,
            severity: Severity | None = None, fix: Fix | None = None, container: Container | None = None,
            **properties) -> Hit:
        props = {"resource": f"{resource.namespace + '/' if resource.namespace else ''}"
                             f"{resource.kind.lower()}/{resource.name}"}
        if container is not None:
            props["container"] = container.name
        props.update({k: v for k, v in properties.items() if v is not None})
        where = line or resource.line
        hit = Hit(rule, message, where, where, 1, 1, None, severity, fix, props)
        self.paths[id(hit)] = resource.path
        return hit

    def path_of(self, hit: Hit) -> str:
        return self.paths.get(id(hit), "-")
