"""Checks of Kubernetes manifests (kind "manifest"): each receives the joined `KubeSet` and a
`ManifestContext`, and reports on the YAML line that causes the problem."""
