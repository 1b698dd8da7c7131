"""The layer reader parses plain tar headers itself and hands everything else to tarfile: whatever
the tar format, both paths must see exactly the same entries (names, links, modes, ids, sizes, kept data)."""
from __future__ import annotations

import hashlib
import io
import tarfile

import pytest

import imagelint.image.layers as layers
from imagelint.findings import ImagelintError
from imagelint.image.model import Layer
from imagelint.trust.keep import TRUST_FILES


def _layer(data: bytes) -> Layer:
    return Layer(index=0, diff_id="sha256:" + hashlib.sha256(data).hexdigest(), digest=None, media_type="",
                 size=len(data), opener=lambda: io.BytesIO(data))


def _read_both(data: bytes, monkeypatch) -> tuple[layers.LayerRecord, layers.LayerRecord]:
    fast = layers.read_layer(_layer(data), TRUST_FILES)
    with monkeypatch.context() as patch:
        patch.setattr(layers, "_fast_header", lambda *args: None)  # every header through tarfile
        slow = layers.read_layer(_layer(data), TRUST_FILES)
    return fast, slow


def _fields(record: layers.LayerRecord) -> tuple:
    return (record.added, record.kept, record.embedded, record.hardlinks, record.whiteouts, record.opaque_dirs,
            record.notes, record.uncompressed_size)


def _tar(fmt: int, entries: list[tuple[tarfile.TarInfo, bytes | None]], pax_global: dict | None = None) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=fmt, pax_headers=pax_global or {}) as archive:
        for info, body in entries:
            archive.addfile(info, io.BytesIO(body) if body is not None else None)
    return buffer.getvalue()


def _entry(name: str, kind: bytes = tarfile.REGTYPE, body: bytes | None = None, **attrs) -> tuple:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = attrs.pop("mode", 0o644)
    for key, value in attrs.items():
        setattr(info, key, value)
    if body is not None:
        info.size = len(body)
    return info, body


LONG = "usr/share/" + "very-long-directory-name/" * 6 + "ca-certificates.crt"
PEM = b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


def _entries() -> list[tuple]:
    return [
        _entry("etc", tarfile.DIRTYPE, mode=0o755),
        _entry("etc/ssl", tarfile.DIRTYPE, mode=0o755),
        _entry("etc/ssl/certs/ca-certificates.crt", body=PEM * 3),
        _entry("etc/os-release", body=b"ID=debian\n"),
        _entry("etc/ssl/certs/link.pem", tarfile.SYMTYPE, linkname="../ca-certificates.crt"),
        _entry("etc/ssl/hard.crt", tarfile.LNKTYPE, linkname="etc/ssl/certs/ca-certificates.crt"),
        _entry("usr/bin/tool", body=b"\x7fELF" + b"\x00" * 3000, mode=0o755, uid=1000, gid=1000),
        _entry("home/user/.ssh/id_rsa", body=b"-----BEGIN OPENSSH PRIVATE KEY-----\n", mode=0o600),
        _entry(LONG, body=PEM),  # ustar prefix, GNU long name or pax path depending on the format
        _entry("opt/" + "l" * 120, tarfile.SYMTYPE, linkname="/target/" + "t" * 110),
        _entry("etc/.wh.old", body=b""),
        _entry("var/.wh..wh..opq", body=b""),
        _entry("dev/null", tarfile.CHRTYPE, devmajor=1, devminor=3),
        _entry("run/fifo", tarfile.FIFOTYPE),
        _entry("big/uid", body=b"x", uid=2 ** 22),  # needs base-256 (GNU) or pax
        _entry("ünïcode/ca.crt", body=PEM),
        _entry("empty.pem", body=b""),
    ]


@pytest.mark.parametrize("fmt", [tarfile.USTAR_FORMAT, tarfile.GNU_FORMAT, tarfile.PAX_FORMAT])
def test_every_format_reads_the_same_with_and_without_the_fast_path(fmt, monkeypatch):
    entries = [e for e in _entries() if fmt != tarfile.USTAR_FORMAT or (
        e[0].uid < 2 ** 21 and len(e[0].linkname) <= 100 and not e[0].name.startswith("opt/"))]
    fast, slow = _read_both(_tar(fmt, entries), monkeypatch)
    assert _fields(fast) == _fields(slow)
    assert fast.kept["/etc/ssl/certs/ca-certificates.crt"] == PEM * 3
    assert "/" + LONG in fast.added
    assert fast.hardlinks == {"/etc/ssl/hard.crt": "/etc/ssl/certs/ca-certificates.crt"}


def test_global_pax_headers_are_left_to_tarfile(monkeypatch):
    data = _tar(tarfile.PAX_FORMAT, _entries()[:4], pax_global={"uid": "4242"})
    fast, slow = _read_both(data, monkeypatch)
    assert _fields(fast) == _fields(slow)
    assert fast.added["/etc/os-release"].uid == 4242


def test_old_v7_directories_and_trailing_slashes(monkeypatch):
    entries = [_entry("etc/", tarfile.AREGTYPE), _entry("etc/os-release", body=b"ID=alpine\n"),
               _entry("usr/", tarfile.DIRTYPE)]
    fast, slow = _read_both(_tar(tarfile.USTAR_FORMAT, entries), monkeypatch)
    assert _fields(fast) == _fields(slow)
    assert fast.added["/etc"].kind == "dir" and fast.added["/usr"].kind == "dir"


def test_a_signed_checksum_is_accepted_like_tarfile_does(monkeypatch):
    data = bytearray(_tar(tarfile.USTAR_FORMAT, [_entry("etc/os-release", body=b"ID=x\n"),
                                                 _entry("etc/é.crt", body=PEM)]))
    header = data[1024:1536]
    signed = 256 + sum(b - 256 if b > 127 else b for i, b in enumerate(header) if not 148 <= i < 156)
    data[1024 + 148:1024 + 156] = b"%06o\0 " % signed  # as some old tars wrote it
    fast, slow = _read_both(bytes(data), monkeypatch)
    assert _fields(fast) == _fields(slow)
    assert fast.kept["/etc/é.crt"] == PEM


@pytest.mark.parametrize("name", ["../escape", "/abs/path", "a/../../b"])
def test_escaping_names_are_refused_on_the_fast_path(name, monkeypatch):
    data = _tar(tarfile.USTAR_FORMAT, [_entry(name, body=b"x")])
    with pytest.raises(ImagelintError, match="refusing the image"):
        layers.read_layer(_layer(data), TRUST_FILES)


def test_a_corrupt_header_checksum_ends_the_archive_as_tarfile_does(monkeypatch):
    data = bytearray(_tar(tarfile.USTAR_FORMAT, [_entry("etc/a", body=b"a"), _entry("etc/b", body=b"b")]))
    data[1024 + 148] ^= 1  # the second header's checksum
    for reader in (lambda d: layers.read_layer(_layer(d), TRUST_FILES),):
        with pytest.raises(ImagelintError, match="after the end-of-archive marker"):
            reader(bytes(data))
    with monkeypatch.context() as patch:
        patch.setattr(layers, "_fast_header", lambda *args: None)
        with pytest.raises(ImagelintError, match="after the end-of-archive marker"):
            layers.read_layer(_layer(bytes(data)), TRUST_FILES)


def test_truncated_layers_are_errors(monkeypatch):
    data = _tar(tarfile.USTAR_FORMAT, [_entry("etc/ssl/certs/ca.crt", body=PEM * 20), _entry("etc/b", body=b"b")])
    for cut in (600, 1100, 1536):
        with pytest.raises(ImagelintError):
            layers.read_layer(_layer(data[:cut]), TRUST_FILES)
