"""Property tests (Hypothesis), bounded for CI (about a minute in all): the parser against BuildKit's
own, the expander against its budget, whole-file lint on generated Dockerfiles, the layer tar reader
on mutated tars, and the certificate loader on mutated stores. Longer runs: fuzz/ (atheris).

Every crash these found is kept as a plain regression test below the properties."""
from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import pytest

import hypothesis  # noqa: F401 - a test dependency: CI must fail, not skip, without it
from hypothesis import HealthCheck, example, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import imagekit as kit  # noqa: E402
from imagelint.certs.load import load_certificates  # noqa: E402
from imagelint.commands.lint import InternalCheckError, LintOptions, lint_text  # noqa: E402
from imagelint.config import Config, DockerfileLimits  # noqa: E402
from imagelint.dockerfile.budget import Budget, spending  # noqa: E402
from imagelint.dockerfile.expand import _strip_prefix, _strip_suffix, expand  # noqa: E402
from imagelint.dockerfile.model import build_model  # noqa: E402
from imagelint.dockerfile.parse import parse_dockerfile  # noqa: E402
from imagelint.findings import ImagelintError  # noqa: E402
from imagelint.image.sources import open_image  # noqa: E402
from imagelint.image.tree import read_image_tree  # noqa: E402
from imagelint.trust.keep import TRUST_FILES  # noqa: E402

BOUNDED = settings(max_examples=120, deadline=None, database=None, derandomize=True,
                   suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                          HealthCheck.function_scoped_fixture])

# --- Dockerfile text from the pieces that make parsers disagree ---------------------------------------

_KEYWORDS = ["FROM", "RUN", "COPY", "ADD", "ENV", "ARG", "CMD", "ENTRYPOINT", "SHELL", "USER", "WORKDIR",
             "LABEL", "ONBUILD RUN", "HEALTHCHECK CMD", "EXPOSE", "VOLUME", "run", "Copy"]
_WORDS = ["alpine", "a=b", "$A", "${A:-x}", "'q w'", '"d $B"', "\\", "\\ ", "`", "<<EOF", "<<-EOT", "<<'E'",
          "--mount=type=cache,target=/x", "--from=base", "--link", "[\"sh\", \"-c\", \"x\"]", "[\"a\",", "&&",
          "||", ";", "#", "# c", "curl -k https://x", "x\ty", "é", "\u00a0", "=", "${", "}", "$((1+2))"]
_BODY_LINES = ["EOF", "EOT", "E", "\tEOT", "echo hi", "", "  EOF", "#!/bin/sh"]


@st.composite
def dockerfile_text(draw) -> str:
    lines = []
    if draw(st.booleans()):
        lines.append(draw(st.sampled_from(["# escape=`", "# syntax=docker/dockerfile:1", "#escape=\\", "# check=skip=all"])))
    lines.append("FROM " + draw(st.sampled_from(["alpine", "debian:12 AS base", "$IMG", "scratch"])))
    for _ in range(draw(st.integers(0, 8))):
        kind = draw(st.integers(0, 9))
        if kind == 0:
            lines.append(draw(st.sampled_from(["", "   ", "# comment", "#", " # indented"])))
            continue
        words = draw(st.lists(st.sampled_from(_WORDS), min_size=0, max_size=5))
        line = draw(st.sampled_from(_KEYWORDS)) + (" " + " ".join(words) if words else "")
        if draw(st.integers(0, 3)) == 0:
            line += draw(st.sampled_from([" \\", "\\", " `", " \\  "]))
        lines.append(line)
        if any(w.startswith("<<") for w in words) or draw(st.integers(0, 5)) == 0:
            lines.extend(draw(st.lists(st.sampled_from(_BODY_LINES), max_size=4)))
    ending = draw(st.sampled_from(["\n", "", "\r\n", "\n\n"]))
    newline = "\r\n" if ending == "\r\n" else "\n"
    return newline.join(lines) + ending


def _buildkit():
    try:
        import test_parse_buildkit
    except pytest.skip.Exception:
        return None
    return test_parse_buildkit


@settings(BOUNDED, max_examples=1500)
@given(text=dockerfile_text())
def test_parser_agrees_with_buildkit(tmp_path_factory, text):
    oracle = _buildkit()
    if oracle is None:
        pytest.skip("BuildKit's parser (PyPI `dockerfile`) is not installed")
    path = tmp_path_factory.mktemp("df") / "Dockerfile"
    path.write_bytes(text.encode("utf-8"))
    problem = oracle.mismatch(path)
    if problem and "BuildKit says error" in problem and _model_rejects(text):
        problem = None  # BuildKit's parser checks some argument counts (ENV) that our model checks
    assert problem is None, f"{problem}\n--- file ---\n{text}"


def _model_rejects(text: str) -> bool:
    try:
        build_model(parse_dockerfile(text))
    except ImagelintError:
        return True
    return False


@settings(BOUNDED, max_examples=600)
@given(text=dockerfile_text())
def test_lint_never_crashes_on_generated_dockerfiles(text):
    try:
        lint_text(text, "Dockerfile", LintOptions(), Config())
    except ImagelintError:
        pass  # input BuildKit would reject: one line
    except InternalCheckError as exc:  # a check crashed
        raise AssertionError(f"{exc.errors[0].message}\n--- file ---\n{text}") from None


# --- the expander -----------------------------------------------------------------------------------

_PIECES = ["$A", "${A}", "$B", "${A:-$B}", "${A:+$A$A}", "${B:-${A}${A}}", "${A#x}", "${A%%y*}", "${A/x/yy}",
           "'$A'", '"$A$A"', "\\$A", "x", "${", "}", "$", "${A:-${A:-${A"]


@BOUNDED
@given(pieces=st.lists(st.sampled_from(_PIECES), max_size=40), size=st.integers(0, 5000),
       max_word=st.integers(1, 4000), max_total=st.integers(1, 20000))
def test_expansion_never_passes_its_budget(pieces, size, max_word, max_total):
    word = "".join(pieces)
    env = {"A": "x" * size, "B": "y" * (size // 2)}
    budget = Budget(DockerfileLimits(max_word_chars=max_word, max_expansion_chars=max_total))
    with spending(budget):
        result = expand(word, env)
    # Literal text is bounded by the word itself; variable values by the word budget.
    assert len(result.value) <= len(word) + max_word
    assert budget.expansion_chars <= max_total


@BOUNDED
@given(doublings=st.integers(0, 60), kind=st.sampled_from(["ARG", "ENV"]))
def test_doubling_a_variable_stays_within_the_word_budget(doublings, kind):
    lines = ["FROM alpine", f"{kind} A=x"] + [f"{kind} A=${{A}}${{A}}"] * doublings + ["RUN curl -k $A"]
    limits = DockerfileLimits(max_word_chars=4096)
    model = build_model(parse_dockerfile("\n".join(lines) + "\n"), limits=limits)
    settings_ = [s for s in model.stages[0].env_settings if s.name == "A"]
    assert all(s.value is None or len(s.value) <= 4096 for s in settings_)
    assert bool(model.budget_notes) == (2 ** doublings > 4096)


_PATTERN = st.text(alphabet="ab*?", max_size=5)
_VALUE = st.text(alphabet="ab", max_size=8)


def _fnmatch_strip(value: str, pattern: str, greedy: bool, suffix: bool) -> str:
    """The old, quadratic definition: the shortest/longest prefix (suffix) that matches as a whole."""
    import fnmatch

    if suffix:
        indexes = range(len(value) + 1) if greedy else range(len(value), -1, -1)
        for i in indexes:
            if fnmatch.fnmatchcase(value[i:], pattern):
                return value[:i]
        return value
    indexes = range(len(value), -1, -1) if greedy else range(len(value) + 1)
    for i in indexes:
        if fnmatch.fnmatchcase(value[:i], pattern):
            return value[i:]
    return value


@settings(max_examples=400, deadline=None, database=None, derandomize=True)
@given(value=_VALUE, pattern=_PATTERN, greedy=st.booleans())
def test_prefix_and_suffix_strip_match_their_definition(value, pattern, greedy):
    assert _strip_prefix(value, pattern, greedy) == _fnmatch_strip(value, pattern, greedy, suffix=False)
    assert _strip_suffix(value, pattern, greedy) == _fnmatch_strip(value, pattern, greedy, suffix=True)


# --- the layer tar reader ---------------------------------------------------------------------------

def _seed_tar(outside: Path) -> bytes:
    layer = kit.Layer("none")
    layer.file("etc/ssl/certs/ca-certificates.crt", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
    layer.file("etc/os-release", "ID=debian\n")
    layer.file("../escape", "x")
    layer.file(str(outside / "absolute"), "x")
    layer.symlink("etc/ssl/cert.pem", "../../" * 8 + str(outside).lstrip("/"))
    layer.file("usr/share/doc/big", os.urandom(3000))
    return layer.tar()


@st.composite
def mutated(draw, seed: bytes) -> bytes:
    data = bytearray(seed)
    for _ in range(draw(st.integers(1, 6))):
        op = draw(st.integers(0, 3))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if op == 0 and data:
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif op == 1:
            del data[at:at + draw(st.integers(1, 600))]
        elif op == 2:
            data[at:at] = draw(st.binary(min_size=1, max_size=64))
        else:
            data[at:at + 12] = draw(st.sampled_from([b"0" * 12, b"7" * 12, b"\x00" * 12, b"\xff" * 12]))
    return bytes(data)


def _layout(directory: Path, blob: bytes) -> Path:
    import json

    layout = directory / "layout"
    blobs = kit._Blobs(layout)
    (layout / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    config = json.dumps({"os": "linux", "architecture": "amd64", "config": {},
                         "rootfs": {"type": "layers", "diff_ids": [kit.sha256(blob)]}}).encode()
    manifest = json.dumps({"schemaVersion": 2, "config": {"digest": blobs.put(config), "size": len(config)},
                           "layers": [{"mediaType": kit.LAYER_TYPES["none"], "digest": blobs.put(blob),
                                       "size": len(blob)}]}).encode()
    digest = blobs.put(manifest)
    (layout / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [
        {"mediaType": kit.OCI_MANIFEST, "digest": digest, "size": len(manifest)}]}))
    return layout


_OUTSIDE = Path("/tmp/imagelint-fuzz-outside")


@BOUNDED
@given(data=st.data())
def test_mutated_layer_tars_never_crash_nor_write(tmp_path_factory, data):
    _OUTSIDE.mkdir(exist_ok=True)
    blob = data.draw(mutated(_seed_tar(_OUTSIDE)))
    work = tmp_path_factory.mktemp("tar")
    layout = _layout(work, blob)
    before = sorted(p.name for p in work.rglob("*"))
    cwd = os.getcwd()
    os.chdir(work)
    try:
        with open_image(f"oci:{layout}") as image:
            tree = read_image_tree(image, TRUST_FILES)
        for path in ("/etc/ssl/cert.pem", "/escape", str(_OUTSIDE / "absolute")):
            tree.read(path)
            tree.realpath(path)
    except ImagelintError:
        pass
    finally:
        os.chdir(cwd)
    assert sorted(p.name for p in work.rglob("*")) == before
    assert list(_OUTSIDE.iterdir()) == []


# --- the certificate loader -------------------------------------------------------------------------

def _seed_stores() -> list[bytes]:
    import pki

    ca = pki.make_cert("Fuzz Root", ca=True)
    pem, der = ca.pem, ca.der
    seeds = [pem, der, pem * 3, b"junk\n" + pem + b"junk", b"-----BEGIN CERTIFICATE-----\n" * 5]
    try:
        from cryptography.hazmat.primitives.serialization import pkcs12

        seeds.append(pkcs12.serialize_key_and_certificates(b"x", None, None, [ca.cert],
                                                          pkcs12.serialization.NoEncryption()))
    except Exception:  # noqa: BLE001 - an older cryptography: the other seeds still run
        pass
    # A JKS header (magic, version 2, one entry) followed by a trusted-cert entry.
    seeds.append(b"\xfe\xed\xfe\xed\x00\x00\x00\x02\x00\x00\x00\x01\x00\x00\x00\x02\x00\x04root"
                 + b"\x00" * 8 + b"\x00\x05X.509" + len(der).to_bytes(4, "big") + der + b"\x00" * 20)
    return seeds


_SEEDS: list[bytes] = []


@BOUNDED
@given(data=st.data())
def test_mutated_certificate_stores_never_crash(data):
    if not _SEEDS:
        _SEEDS.extend(_seed_stores())
    seed = data.draw(st.sampled_from(_SEEDS))
    blob = data.draw(mutated(seed))
    result = load_certificates(blob, "fuzz")
    assert isinstance(result.certificates, list)


# --- regressions the properties found ---------------------------------------------------------------

def test_a_thousand_nested_defaults_are_not_a_crash():
    text = "FROM alpine\nARG A=" + "${B:-" * 1200 + "x" + "}" * 1200 + "\nRUN curl -k https://x $A\n"
    findings, model = lint_text(text, "Dockerfile", LintOptions(), Config())
    assert any("nests variable expansions too deeply" in m for _, m in model.budget_notes)
    assert any(f.rule.startswith("IL1") for f in findings)  # the rest is still checked


def test_label_with_one_word_is_rejected_like_buildkit():
    """Found by test_parser_agrees_with_buildkit: BuildKit's parseNameVal rejects `LABEL x`."""
    for text, message in (("FROM alpine\nLABEL alpine\n", "LABEL must have two arguments"),
                          ("FROM alpine\nLABEL a=b c\n", "LABEL must be of the form name=value")):
        with pytest.raises(ImagelintError, match=message):
            lint_text(text, "Dockerfile", LintOptions(), Config())
    lint_text("FROM alpine\nLABEL maintainer someone else\nLABEL a=b c=d\n", "Dockerfile", LintOptions(), Config())


def test_arguments_are_trimmed_of_unicode_spaces_like_buildkit():
    """Found by test_parser_agrees_with_buildkit (fixture: fixtures/parser/unicode-space-args.Dockerfile)."""
    parsed = parse_dockerfile("FROM alpine\nRUN \u00a0\nRUN echo hi\u3000\n")
    assert [i.args for i in parsed.instructions[1:]] == ["", "echo hi"]


_PEM_PIECES = [b"-----BEGIN CERTIFICATE-----\n", b"-----END CERTIFICATE-----\n", b"-----BEGIN PRIVATE KEY-----",
               b"-----END PRIVATE KEY-----", b"-----BEGIN X-----", b"-----END X-----", b"AAAA\n", b"-----", b"\n"]


@settings(max_examples=400, deadline=None, database=None, derandomize=True)
@given(pieces=st.lists(st.sampled_from(_PEM_PIECES), max_size=30))
def test_linear_pem_scan_finds_what_the_regex_finds(pieces):
    from imagelint.certs.load import PEM_BLOCK, pem_blocks

    data = b"".join(pieces)
    ours = [(m.group(1), m.group(2), m.start(), m.end()) for m in pem_blocks(data)]
    regex = [(m.group(1), m.group(2), m.start(), m.end()) for m in PEM_BLOCK.finditer(data)]
    assert ours == regex


def test_unterminated_pem_blocks_are_linear():
    """Issue 18: 4,000 BEGIN lines without END took 6.6 s (each rescanned to the end), 1 MB minutes."""
    import time

    data = b"-----BEGIN CERTIFICATE-----\nAAAA\n" * 40_000 + b"-----END CERTIFICATE-----\n"
    start = time.process_time()
    result = load_certificates(data, "x")
    assert time.process_time() - start < 5
    assert result.certificates == []


# --- YAML bombs in every YAML reader (Kubernetes manifests: kube/load.py; the ruamel round trip of
# `fix` reads only what that loader accepted) -------------------------------------------------------

def _laughs(levels: int, width: int, flow: bool) -> str:
    lines = ["apiVersion: v1", "kind: ConfigMap", "metadata: {name: lol}", "data:"]
    lines.append('  a0: &a0 "lol"')
    for i in range(1, levels + 1):
        refs = [f"*a{i - 1}"] * width
        if flow:
            lines.append(f"  a{i}: &a{i} [{', '.join(refs)}]")
        else:
            lines.append(f"  a{i}: &a{i}")
            lines.extend(f"    - {r}" for r in refs)
    return "\n".join(lines) + "\n"


def _nested(depth: int, kind: str) -> str:
    head = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: deep}\ndata: "
    if kind == "seq":
        return head + "[" * depth + "]" * depth + "\n"
    if kind == "map":
        return head + "{a: " * depth + "1" + "}" * depth + "\n"
    return head + "\n" + "".join(" " * (i + 1) + "k:\n" for i in range(depth)) + " " * (depth + 1) + "v: 1\n"


def _bounded_load(text: str) -> None:
    """Bounded time here; bounded memory is checked by the capped processes below."""
    import time

    from imagelint.kube.load import load_documents

    start = time.process_time()
    try:
        load_documents(text, "bomb.yaml")
    except ImagelintError as exc:
        assert "\n" not in str(exc) and exc.path == "bomb.yaml"
    assert time.process_time() - start < 3


@settings(max_examples=40, deadline=None, database=None, derandomize=True)
@given(levels=st.integers(1, 12), width=st.integers(1, 12), flow=st.booleans())
def test_billion_laughs_is_bounded(levels, width, flow):
    _bounded_load(_laughs(levels, width, flow))


@settings(max_examples=25, deadline=None, database=None, derandomize=True)
@given(depth=st.integers(1, 6000), kind=st.sampled_from(["seq", "map", "block"]))
def test_deep_yaml_nesting_is_bounded(depth, kind):
    if kind == "block":
        depth = min(depth, 1500)  # block nesting is indentation: 1,500 levels is already 1 MB of spaces
    _bounded_load(_nested(depth, kind))


def _cap_memory():  # 1 GB of address space: an expanded bomb would not fit
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))


@pytest.mark.parametrize("name, text", [
    ("laughs.yaml", _laughs(10, 9, True)),
    ("deep.yaml", _nested(5000, "seq")),
    ("recursive.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: r}\ndata: &a {x: *a}\n"),
    ("merge-bomb.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: m}\na: &a {k0: 0, k1: 1, k2: 2}\n"
     + "".join(f"b{i}: &b{i} {{<<: [*a{', *b' + str(i - 1) if i else ''}]}}\n" for i in range(60))),
], ids=["laughs", "deep", "recursive", "merge-bomb"])
@pytest.mark.parametrize("command", [["lint"], ["fix", "--diff"], ["expiry"]])
def test_yaml_bombs_are_one_line_in_every_command(tmp_path, name, text, command):
    import subprocess
    import sys

    (tmp_path / name).write_text(text)
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    r = subprocess.run([sys.executable, "-m", "imagelint.cli", *command, name], cwd=tmp_path, capture_output=True,
                       text=True, env=env, timeout=60, preexec_fn=_cap_memory)
    assert r.returncode in (0, 1, 2), r.stderr
    assert "Traceback" not in r.stderr
    if r.returncode == 2:
        assert name in r.stderr
