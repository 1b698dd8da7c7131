"""Coverage-guided fuzzing with atheris, for runs longer than CI's bounded Hypothesis tests.

    pip install atheris            # needs a clang-built CPython wheel; x86-64 Linux has them
    PYTHONPATH=. python fuzz/fuzz_imagelint.py dockerfile fuzz/corpus/dockerfile -max_total_time=600
    PYTHONPATH=. python fuzz/fuzz_imagelint.py tar -runs=100000 -rss_limit_mb=2048

Targets: dockerfile (parse, model and every check), expand (one word within its budget),
tar (one layer read through an OCI layout), certs (the certificate loader). A finding is any
exception other than imagelint's one-line ImagelintError; make each one a regression test in
tests/test_fuzz.py (or a fixture) before fixing it. Always run with -rss_limit_mb (the default is
2048) and a time limit: this machine is shared.
"""
from __future__ import annotations

import json
import os
import sys
import tempfile

import atheris

with atheris.instrument_imports():
    from imagelint.certs.load import load_certificates
    from imagelint.commands.lint import InternalCheckError, LintOptions, lint_text
    from imagelint.config import Config, DockerfileLimits
    from imagelint.dockerfile.budget import Budget, spending
    from imagelint.dockerfile.expand import expand
    from imagelint.findings import ImagelintError
    from imagelint.image.sources import open_image
    from imagelint.image.tree import read_image_tree
    from imagelint.trust.keep import TRUST_FILES

LIMITS = DockerfileLimits(max_word_chars=4096, max_expansion_chars=65536)


def fuzz_dockerfile(data: bytes) -> None:
    text = data.decode("utf-8", "replace")
    try:
        lint_text(text, "Dockerfile", LintOptions(), Config(limits=LIMITS))
    except ImagelintError:
        pass
    except InternalCheckError as exc:
        raise RuntimeError(exc.errors[0].message) from None


def fuzz_expand(data: bytes) -> None:
    provider = atheris.FuzzedDataProvider(data)
    size = provider.ConsumeIntInRange(0, 10_000)
    word = provider.ConsumeUnicodeNoSurrogates(256)
    budget = Budget(LIMITS)
    with spending(budget):
        result = expand(word, {"A": "a" * size, "B": None, "C": "$A$A"})
    assert len(result.value) <= len(word) + LIMITS.max_word_chars, (word, len(result.value))


def _layout(directory: str, blob: bytes) -> str:
    import hashlib

    def put(content: bytes) -> str:
        digest = hashlib.sha256(content).hexdigest()
        os.makedirs(os.path.join(directory, "blobs", "sha256"), exist_ok=True)
        with open(os.path.join(directory, "blobs", "sha256", digest), "wb") as fh:
            fh.write(content)
        return "sha256:" + digest

    config = json.dumps({"os": "linux", "architecture": "amd64", "config": {},
                         "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(blob).hexdigest()]}}).encode()
    manifest = json.dumps({"schemaVersion": 2, "config": {"digest": put(config), "size": len(config)},
                           "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                                       "digest": put(blob), "size": len(blob)}]}).encode()
    digest = put(manifest)
    with open(os.path.join(directory, "oci-layout"), "w") as fh:
        fh.write('{"imageLayoutVersion": "1.0.0"}')
    with open(os.path.join(directory, "index.json"), "w") as fh:
        json.dump({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
                                                      "digest": digest, "size": len(manifest)}]}, fh)
    return directory


def fuzz_tar(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as directory:
        try:
            with open_image("oci:" + _layout(directory, data)) as image:
                tree = read_image_tree(image, TRUST_FILES)
                tree.read("/etc/ssl/certs/ca-certificates.crt")
        except ImagelintError:
            pass


def fuzz_certs(data: bytes) -> None:
    load_certificates(data, "fuzz")


TARGETS = {"dockerfile": fuzz_dockerfile, "expand": fuzz_expand, "tar": fuzz_tar, "certs": fuzz_certs}


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in TARGETS:
        sys.exit(f"usage: {sys.argv[0]} {{{','.join(TARGETS)}}} [corpus dir] [libFuzzer options]")
    target = TARGETS[sys.argv.pop(1)]
    atheris.Setup(sys.argv, target)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
