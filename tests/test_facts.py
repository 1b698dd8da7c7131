"""The trust facts: one data file, read into typed records that lint, scan and trust share."""
from imagelint.facts import UNKNOWN, base_image_facts, families, family, package_manager_families
from imagelint.facts.data import trust_facts


def test_every_family_loads_and_every_reference_names_one():
    known = families()
    assert {"debian", "ubuntu", "alpine", "wolfi", "rhel", "suse", "arch", "distroless", "scratch"} <= set(known)
    for entry in trust_facts()["image"]:
        assert entry["family"] in known, entry
    for fam in known.values():
        assert fam.like is None or fam.like in known
    assert set(package_manager_families().values()) <= set(known)


def test_unknown_family_is_falsy_and_empty():
    assert not family(None) and family("no-such-family") is UNKNOWN
    assert UNKNOWN.anchor_dirs == () and UNKNOWN.update_command is None


def test_lineage_and_derived_facts():
    assert family("ubuntu").lineage == family("distroless").lineage == "debian"
    assert family("debian").crt_only and not family("alpine").crt_only
    assert family("rhel").system_bundle == "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem"
    assert family("rhel").bundle == "/etc/pki/tls/certs/ca-bundle.crt"


def test_base_images_classify_from_the_data():
    assert base_image_facts("python", "python", "3.12-slim")["family"] == "debian"
    assert base_image_facts("python", "python", "3.12-alpine")["family"] == "alpine"
    assert base_image_facts("gcr.io/distroless/static", "distroless/static", "nonroot")["family"] == "distroless"
    assert base_image_facts("registry.corp/base", "base", "1") == {}
