"""Parser edge cases with explicit expectations, including what BuildKit does not report: source
offsets of instructions, flags, words and heredoc bodies (findings point at them, fixes rewrite them).
These run everywhere; tests/test_parse_buildkit.py checks the same files against BuildKit itself.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from imagelint.dockerfile.parse import decode_dockerfile, parse_dockerfile
from imagelint.findings import ImagelintError

ROOT = Path(__file__).resolve().parents[1]
PARSER_FIXTURES = ROOT / "fixtures" / "parser"
from corpus import full_corpus, full_corpus_present, sample_files


def load(name: str):
    path = PARSER_FIXTURES / name
    text = decode_dockerfile(path.read_bytes(), str(path))
    return text, parse_dockerfile(text, str(path))


def keywords(parsed) -> list[tuple[str, int, int]]:
    return [(i.keyword, i.line, i.end_line) for i in parsed.instructions]


def test_backtick_escape_continues_lines_and_keeps_backslashes():
    text, parsed = load("escape-backtick.Dockerfile")
    assert parsed.escape == "`" and parsed.directives == {"escape": "`"}
    assert keywords(parsed) == [
        ("FROM", 5, 5), ("SHELL", 6, 6), ("COPY", 7, 7), ("RUN", 8, 10), ("RUN", 11, 14), ("WORKDIR", 15, 15),
    ]
    copy = parsed.instructions[2]
    assert [w.raw for w in copy.words("`")] == ["certs\\corp-root.crt", "C:\\certs\\corp-root.crt"]
    run = parsed.instructions[3]
    assert run.args == "Import-Certificate       -FilePath C:\\certs\\corp-root.crt       -CertStoreLocation Cert:\\LocalMachine\\Root"
    # The comment and blank line inside the continuation are not part of the command.
    assert "comment" not in parsed.instructions[4].args
    assert parsed.instructions[4].args.endswith("continues here\"")


def test_directive_after_blank_line_or_comment_is_a_comment():
    _, parsed = load("directives-after-blank.Dockerfile")
    assert parsed.escape == "\\" and parsed.directives == {"syntax": "docker/dockerfile:1"}
    assert keywords(parsed) == [("FROM", 6, 6), ("RUN", 7, 8), ("RUN", 9, 9), ("RUN", 10, 10)]
    _, parsed = load("directives-after-comment.Dockerfile")
    assert parsed.escape == "\\" and parsed.directives == {}
    assert keywords(parsed) == [("FROM", 3, 3), ("RUN", 4, 5)]


def test_syntax_check_and_escape_directives():
    _, parsed = load("directives.Dockerfile")
    assert parsed.directives == {
        "syntax": "docker/dockerfile:1.10", "check": "skip=JSONArgsRecommended;error=true", "escape": "\\",
    }


def test_heredoc_chomp_keeps_body_and_matches_tab_indented_terminator():
    text, parsed = load("heredoc-chomp.Dockerfile")
    first, second = parsed.instructions[1], parsed.instructions[2]
    assert (first.line, first.end_line) == (3, 7)
    (doc,) = first.heredocs
    assert doc.name == "EOF" and doc.chomp and doc.expand
    assert doc.content.startswith("\tset -e\n") and text[doc.start:doc.end] == doc.content
    assert (doc.line, doc.end_line) == (4, 7)
    assert second.heredocs[0].name == "CONF" and second.end_line == 11


def test_quoted_heredoc_names_do_not_expand():
    _, parsed = load("heredoc-quoted.Dockerfile")
    docs = [(h.name, h.expand) for i in parsed.instructions for h in i.heredocs]
    assert docs == [("EOF", False), ("END_OF_SCRIPT", False), ("EOF", True)]


def test_two_heredocs_on_one_run_are_read_in_order():
    text, parsed = load("heredoc-multiple.Dockerfile")
    run = parsed.instructions[1]
    assert [(h.name, h.fd, h.content, h.line, h.end_line) for h in run.heredocs] == [
        ("FILE1", 0, "first file\n", 4, 5), ("FILE2", 3, "second file\n", 6, 7),
    ]
    for doc in run.heredocs:
        assert text[doc.start:doc.end] == doc.content
    assert text[run.start:run.end].endswith("FILE2\n")


def test_copy_and_add_heredocs():
    _, parsed = load("heredoc-copy.Dockerfile")
    copy1, copy2, add = parsed.instructions[1:]
    assert copy1.heredocs[0].content == "server {\n    listen 80;\n}\n"
    assert [h.name for h in copy2.heredocs] == ["run.sh", "config.ini"]
    assert copy2.flag("chmod").value == "755"
    assert add.keyword == "ADD" and add.heredocs[0].content == "added\n"


def test_heredoc_on_another_file_descriptor():
    _, parsed = load("heredoc-fd.Dockerfile")
    assert [(h.name, h.fd) for i in parsed.instructions for h in i.heredocs] == [("EOF", 3), ("IN", 0)]


def test_comments_and_blank_lines_inside_continuations():
    _, parsed = load("continuation-comments.Dockerfile")
    assert keywords(parsed) == [("FROM", 3, 3), ("RUN", 4, 11), ("ENV", 12, 14), ("RUN", 16, 16)]
    run = parsed.instructions[1]
    assert "install the CA bundle" not in run.logical and "ca-certificates" in run.logical
    assert parsed.instructions[3].args == "echo indented instruction"
    comment_lines = [line for line, _ in parsed.comments]
    assert {5, 9, 13, 15} <= set(comment_lines)


def test_continuation_at_end_of_file_ends_the_instruction():
    text, parsed = load("continuation-at-eof.Dockerfile")
    run = parsed.instructions[-1]
    assert (run.line, run.end_line) == (3, 4)
    assert run.args.endswith("&& echo done")
    assert run.end == len(text)


def test_crlf_line_endings():
    text, parsed = load("crlf.Dockerfile")
    assert "\r\n" in text
    assert keywords(parsed) == [("FROM", 2, 2), ("RUN", 3, 4), ("RUN", 5, 7), ("CMD", 8, 8)]
    assert "\r" not in parsed.instructions[1].args
    assert parsed.instructions[2].heredocs[0].content == "echo crlf heredoc\r\n"
    assert parsed.instructions[3].json_args == ["bash"]
    assert parsed.line_text(2) == "FROM debian:bookworm"
    # Columns are counted within the line, the CR never shifts them.
    offset = text.index("ca-certificates")
    assert parsed.position(offset) == (4, text.split("\r\n")[3].index("ca-certificates") + 1)


def test_byte_order_mark_before_a_directive():
    text, parsed = load("bom.Dockerfile")
    assert text.startswith("\ufeff")
    assert parsed.directives == {"syntax": "docker/dockerfile:1"}
    assert keywords(parsed) == [("FROM", 3, 3), ("RUN", 4, 4)]


def test_builder_flags_with_source_offsets():
    text, parsed = load("flags.Dockerfile")
    run = parsed.instructions[1]
    assert [(f.name, f.value) for f in run.flags] == [
        ("mount", "type=secret,id=x"), ("network", "none"), ("security", "insecure"),
    ]
    for inst in parsed.instructions:
        for flag in inst.flags:
            assert text[flag.start:flag.end].startswith("--" + flag.name)
    assert [f.name for f in parsed.instructions[2].flags] == ["mount", "mount"]
    assert parsed.instructions[3].flag("mount").value == "type=secret,id=npmrc,target=/root/.npmrc"
    assert parsed.instructions[4].flag("platform").value == "$BUILDPLATFORM"
    copy = parsed.instructions[5]
    assert [(f.name, f.value) for f in copy.flags] == [
        ("from", "build"), ("chmod", "644"), ("chown", "1:1"), ("link", None), ("parents", None),
    ]
    assert [w.raw for w in copy.words()] == ["/go/bin/./app", "/"]
    add = parsed.instructions[6]
    assert add.flag("checksum").value.startswith("sha256:24454f83")
    healthcheck = parsed.instructions[-1]
    assert healthcheck.json_args == ["/app", "health"] and healthcheck.flag("retries").value == "3"


def test_exec_form_detection_follows_buildkit():
    _, parsed = load("exec-form.Dockerfile")
    forms = [(i.keyword, i.json_args) for i in parsed.instructions[1:]]
    assert forms == [
        ("SHELL", ["/bin/bash", "-o", "pipefail", "-c"]),
        ("RUN", ["sh", "-c", 'echo "quoted" \\ and A']),
        ("ENTRYPOINT", ["node", "server.js"]),
        ("CMD", ["--port", "8080"]),  # the trailing comment is ignored, as by Go's json.Decoder
        ("RUN", None),
        ("CMD", None),
        ("VOLUME", ["/data", "/logs"]),
        ("VOLUME", None),
        ("COPY", ["package.json", "package-lock.json", "./"]),
    ]


@pytest.mark.parametrize("args", ["[NaN]", "[Infinity]", '{"a": 1}', '["a",', "[ 'a' ]"])
def test_not_quite_json_is_shell_form(args: str):
    parsed = parse_dockerfile(f"FROM alpine\nCMD {args}\n")
    assert parsed.instructions[1].json_args is None


def test_json_array_of_non_strings_is_an_error_with_its_line():
    with pytest.raises(ImagelintError) as info:
        parse_dockerfile('FROM alpine\n\nCMD ["sleep", 10]\n', "Dockerfile")
    assert info.value.line == 3


def test_onbuild_trigger_is_parsed_as_an_instruction():
    text, parsed = load("onbuild-healthcheck.Dockerfile")
    triggers = [i.sub_instruction for i in parsed.instructions if i.keyword == "ONBUILD"]
    assert [t.keyword for t in triggers] == ["COPY", "RUN", "RUN", "RUN"]
    assert triggers[1].json_args == ["bundle", "install"]
    mount = triggers[2].flag("mount")
    assert mount.value == "type=cache,target=/root/.gem" and text[mount.start:mount.end] == "--mount=type=cache,target=/root/.gem"
    assert [w.raw for w in triggers[2].words()] == ["gem", "install", "bundler"]
    assert [text[w.start:w.end] for w in triggers[2].words()] == ["gem", "install", "bundler"]
    heredoc_trigger = parsed.instructions[4]
    assert (heredoc_trigger.line, heredoc_trigger.end_line) == (7, 9)
    assert heredoc_trigger.heredocs[0].content == "echo heredoc in a trigger\n"


def test_healthcheck_forms():
    _, parsed = load("onbuild-healthcheck.Dockerfile")
    checks = [i for i in parsed.instructions if i.keyword == "HEALTHCHECK"]
    assert [c.json_args for c in checks] == [None, ["curl", "-f", "http://localhost/"], None]
    assert checks[0].args.startswith("CMD wget")


@pytest.mark.parametrize(
    "name, message, line",
    [
        ("unterminated-heredoc.txt", "unterminated heredoc", 3),
        ("json-not-strings.txt", "array of strings", 3),
        ("duplicate-directive.txt", "only one escape parser directive", 2),
        ("comments-only.txt", "no instructions", None),
    ],
)
def test_invalid_fixtures_raise_with_line(name: str, message: str, line):
    path = PARSER_FIXTURES / "invalid" / name
    with pytest.raises(ImagelintError) as info:
        parse_dockerfile(path.read_text(encoding="utf-8"), str(path))
    assert message in str(info.value)
    assert info.value.path == str(path) and info.value.line == line


def _corpus_files() -> list[Path]:
    """The full corpus when it is there (CI=true requires it), else the vendored sample."""
    if full_corpus_present() or os.environ.get("CI", "").lower() == "true":
        return sorted(p for p in full_corpus().rglob("*") if p.is_file())
    return sample_files()


def test_offsets_point_into_the_source_for_the_whole_corpus():
    # What BuildKit cannot check for us: every offset we hand to findings and fixes is right.
    problems = []
    files = _corpus_files() + sorted(PARSER_FIXTURES.glob("*.Dockerfile"))
    for path in files:
        try:
            text = decode_dockerfile(path.read_bytes(), str(path))
            parsed = parse_dockerfile(text, str(path))
        except ImagelintError:
            continue
        previous_end = 0
        for inst in parsed.instructions:
            where = f"{path}:{inst.line}"
            if inst.start < previous_end or not text.startswith(inst.original_keyword, inst.start):
                problems.append(f"{where}: instruction span does not start at {inst.original_keyword!r}")
            if parsed.position(inst.start)[0] != inst.line:
                problems.append(f"{where}: start offset is on line {parsed.position(inst.start)[0]}")
            if parsed.position(max(inst.end - 1, inst.start))[0] != inst.end_line:
                problems.append(f"{where}: end offset is not on line {inst.end_line}")
            previous_end = inst.end
            for flag in inst.flags:
                if not text.startswith("--" + flag.name, flag.start):
                    problems.append(f"{where}: flag --{flag.name} offset {flag.start} is off")
            for doc in inst.heredocs:
                if text[doc.start:doc.end] != doc.content:
                    problems.append(f"{where}: heredoc {doc.name} span differs from its content")
            if inst.json_args is None and inst.keyword not in ("ONBUILD",):
                for word in inst.words(parsed.escape):
                    if parsed.escape not in word.raw and "\n" not in text[word.start:word.end] and text[word.start:word.end] != word.raw:
                        problems.append(f"{where}: word {word.raw!r} maps to {text[word.start:word.end]!r}")
                        break
    assert len(files) > 10
    assert not problems, "\n".join(problems[:50])
