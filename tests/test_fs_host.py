"""HostView(root=...) resolves links the way chroot would: never outside its root."""
import os

from imagelint.fs.host import HostView


def test_absolute_link_stays_inside_root(tmp_path):
    root = tmp_path / "root"
    (root / "etc/ssl/certs").mkdir(parents=True)
    (root / "etc/ssl/certs/ca-certificates.crt").write_text("inside\n")
    outside = tmp_path / "secret"
    outside.write_text("outside\n")
    os.symlink("/etc/ssl/certs/ca-certificates.crt", root / "etc/ssl/cert.pem")
    os.symlink(str(outside), root / "etc/escape")  # absolute host path: means <root>/tmp/... inside
    os.symlink("../../../../../../../../" + str(outside).lstrip("/"), root / "etc/dotdot")
    tree = HostView(str(root))
    assert tree.read("/etc/ssl/cert.pem") == b"inside\n"
    assert tree.realpath("/etc/ssl/cert.pem") == "/etc/ssl/certs/ca-certificates.crt"
    assert tree.read("/etc/escape") is None
    assert tree.read("/etc/dotdot") is None
    assert tree.info("/etc/escape") is None
    assert tree.info("/etc/escape", follow=False).kind == "symlink"


def test_link_loop_is_none(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    os.symlink("b", root / "a")
    os.symlink("a", root / "b")
    tree = HostView(str(root))
    assert tree.realpath("/a") is None
    assert tree.read("/a") is None
    assert tree.listdir("/a") == []
