"""Edit builders on exact inputs: each case is (Dockerfile, rule, expected Dockerfile after that rule's fix)."""
from __future__ import annotations

import pytest

from imagelint.dockerfile.parse import parse_dockerfile
from imagelint.commands.fix import fix_dockerfile
from imagelint.fixes.apply import apply_edits
from imagelint.fixes.edits import Source, append_to_run, delete_span, insert_after
from imagelint.commands.lint import LintOptions, lint_text



@pytest.fixture(autouse=True)
def builders_raise(monkeypatch):
    """A fix builder that fails must fail these tests, not silently drop its fix."""
    monkeypatch.setenv("IMAGELINT_FIX_DEBUG", "1")


def fix_one(text: str, rule: str) -> str:
    findings, _ = lint_text(text, "Dockerfile", LintOptions(select=[rule]))
    hits = [f for f in findings if f.rule == rule]
    assert len(hits) == 1, [f.message for f in findings]
    assert hits[0].fix is not None, f"{rule}: no fix"
    return apply_edits(text, hits[0].fix.edits)


CASES = [
    # curl -k in its many places
    ("cluster", "FROM debian:12\nRUN curl -fsSLk https://x -o /tmp/x\n", "IL110",
     "FROM debian:12\nRUN curl -fsSL https://x -o /tmp/x\n"),
    ("alone-mid-line", "FROM debian:12\nRUN curl -k https://x\n", "IL110", "FROM debian:12\nRUN curl https://x\n"),
    ("at-end", "FROM debian:12\nRUN curl https://x -k\n", "IL110", "FROM debian:12\nRUN curl https://x\n"),
    ("before-connector", "FROM debian:12\nRUN curl https://x -k && echo ok\n", "IL110",
     "FROM debian:12\nRUN curl https://x && echo ok\n"),
    ("own-continuation-line", "FROM debian:12\nRUN curl -fsSL \\\n    -k \\\n    https://x\n", "IL110",
     "FROM debian:12\nRUN curl -fsSL \\\n    https://x\n"),
    ("last-continuation-line", "FROM debian:12\nRUN curl -fsSL https://x \\\n    --insecure\nUSER app\n", "IL110",
     "FROM debian:12\nRUN curl -fsSL https://x\nUSER app\n"),
    ("line-start-more-after", "FROM debian:12\nRUN curl \\\n    -k https://x\n", "IL110",
     "FROM debian:12\nRUN curl \\\n    https://x\n"),
    ("tabs-kept", "FROM debian:12\nRUN\tcurl\t-k\thttps://x\n", "IL110", "FROM debian:12\nRUN\tcurl\thttps://x\n"),
    ("sh-c-single-quoted", "FROM debian:12\nRUN sh -c 'curl -k https://x | sh'\n", "IL110",
     "FROM debian:12\nRUN sh -c 'curl https://x | sh'\n"),
    ("heredoc", "FROM debian:12\nRUN <<EOF\nset -e\ncurl --insecure https://x -o /x\nEOF\n", "IL110",
     "FROM debian:12\nRUN <<EOF\nset -e\ncurl https://x -o /x\nEOF\n"),
    ("exec-form", 'FROM debian:12\nRUN ["curl", "-k", "https://x"]\n', "IL110", 'FROM debian:12\nRUN ["curl", "https://x"]\n'),
    ("exec-form-last", 'FROM debian:12\nRUN ["curl", "https://x", "--insecure"]\n', "IL110", 'FROM debian:12\nRUN ["curl", "https://x"]\n'),
    ("wget", "FROM debian:12\nRUN wget --no-check-certificate -qO- https://x | tar x\n", "IL111",
     "FROM debian:12\nRUN wget -qO- https://x | tar x\n"),
    # ENV pairs and other assignments
    ("env-only-pair", "FROM node:20\nENV NODE_TLS_REJECT_UNAUTHORIZED=0\nCMD [\"node\"]\n", "IL101",
     "FROM node:20\nCMD [\"node\"]\n"),
    ("env-last-no-final-newline", "FROM node:20\nENV NODE_TLS_REJECT_UNAUTHORIZED=0", "IL101", "FROM node:20"),
    ("env-first-of-two", "FROM node:20\nENV NODE_TLS_REJECT_UNAUTHORIZED=0 A=1\n", "IL101", "FROM node:20\nENV A=1\n"),
    ("env-second-of-two", "FROM node:20\nENV A=1 NODE_TLS_REJECT_UNAUTHORIZED=0\n", "IL101", "FROM node:20\nENV A=1\n"),
    ("env-middle-continued", "FROM node:20\nENV A=1 \\\n    NODE_TLS_REJECT_UNAUTHORIZED=0 \\\n    B=2\n", "IL101",
     "FROM node:20\nENV A=1 \\\n    B=2\n"),
    ("env-legacy", "FROM debian:12\nENV GIT_SSL_NO_VERIFY true\nRUN true\n", "IL102", "FROM debian:12\nRUN true\n"),
    ("run-prefix", "FROM debian:12\nRUN GIT_SSL_NO_VERIFY=1 git clone https://x /y\n", "IL102",
     "FROM debian:12\nRUN git clone https://x /y\n"),
    ("export-first", "FROM node:20\nRUN export NODE_TLS_REJECT_UNAUTHORIZED=0 && npm ci\n", "IL101", "FROM node:20\nRUN npm ci\n"),
    ("export-last", "FROM node:20\nRUN npm ci \\\n    && export NODE_TLS_REJECT_UNAUTHORIZED=0\n", "IL101", "FROM node:20\nRUN npm ci\n"),
    # CA registration, in the file's style
    ("copy-then-run", "FROM debian:12\nRUN apt-get update && apt-get install -y ca-certificates\n"
                      "COPY a.crt /usr/local/share/ca-certificates/a.crt\n", "IL201",
     "FROM debian:12\nRUN apt-get update && apt-get install -y ca-certificates\n"
     "COPY a.crt /usr/local/share/ca-certificates/a.crt\nRUN update-ca-certificates\n"),
    ("debian-without-tool", "FROM debian:12\nCOPY a.crt /usr/local/share/ca-certificates/a.crt\n", "IL201",
     "FROM debian:12\nCOPY a.crt /usr/local/share/ca-certificates/a.crt\nRUN apt-get update && apt-get install -y "
     "--no-install-recommends ca-certificates && rm -rf /var/lib/apt/lists/* && update-ca-certificates\n"),
    ("alpine", "FROM alpine:3.20\nCOPY a.crt /usr/local/share/ca-certificates/\n", "IL201",
     "FROM alpine:3.20\nCOPY a.crt /usr/local/share/ca-certificates/\nRUN apk add --no-cache ca-certificates && update-ca-certificates\n"),
    ("indented", "FROM debian:12\nRUN apt-get update && apt-get install -y ca-certificates\n"
                 "  COPY a.crt /usr/local/share/ca-certificates/a.crt\n", "IL201",
     "FROM debian:12\nRUN apt-get update && apt-get install -y ca-certificates\n"
     "  COPY a.crt /usr/local/share/ca-certificates/a.crt\n  RUN update-ca-certificates\n"),
    ("chain-single-line", "FROM rockylinux:9\nRUN cp /tmp/a.pem /etc/pki/ca-trust/source/anchors/\n", "IL201",
     "FROM rockylinux:9\nRUN cp /tmp/a.pem /etc/pki/ca-trust/source/anchors/ && update-ca-trust\n"),
    ("chain-trailing-ops", "FROM rockylinux:9\nRUN mkdir -p /x && \\\n\tcp /tmp/a.pem /etc/pki/ca-trust/source/anchors/\n", "IL201",
     "FROM rockylinux:9\nRUN mkdir -p /x && \\\n\tcp /tmp/a.pem /etc/pki/ca-trust/source/anchors/ && \\\n\tupdate-ca-trust\n"),
    ("chain-trailing-comment", "FROM rockylinux:9\nRUN cp /tmp/a.pem /etc/pki/ca-trust/source/anchors/  # the CA\n", "IL201",
     "FROM rockylinux:9\nRUN cp /tmp/a.pem /etc/pki/ca-trust/source/anchors/  # the CA\nRUN update-ca-trust\n"),
    ("crlf", "FROM debian:12\r\nRUN apt-get install -y ca-certificates\r\nCOPY a.crt /usr/local/share/ca-certificates/a.crt\r\n",
     "IL201", "FROM debian:12\r\nRUN apt-get install -y ca-certificates\r\nCOPY a.crt /usr/local/share/ca-certificates/a.crt\r\n"
              "RUN update-ca-certificates\r\n"),
    ("escape-backtick", "# escape=`\nFROM rockylinux:9\nRUN dnf -y install curl `\n    && cp /a.pem /etc/pki/ca-trust/source/anchors/\n",
     "IL201", "# escape=`\nFROM rockylinux:9\nRUN dnf -y install curl `\n    && cp /a.pem /etc/pki/ca-trust/source/anchors/ `\n"
              "    && update-ca-trust\n"),
]


@pytest.mark.parametrize("text,rule,expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_fix_edit(text, rule, expected):
    assert fix_one(text, rule) == expected


def src(text: str) -> Source:
    return Source.of(parse_dockerfile(text))


def test_insert_after_replaces_the_anchor_with_itself_plus_lines():
    text = "FROM a\nCOPY x /y\nCMD z"
    s = src(text)
    anchor = parse_dockerfile(text).instructions[1]
    edit = insert_after(s, anchor, ["RUN b"])
    assert (edit.start, edit.end) == (anchor.start, anchor.start + len("COPY x /y"))
    assert edit.text == "COPY x /y\nRUN b"
    last = parse_dockerfile(text).instructions[2]
    assert apply_edits(text, [insert_after(s, last, ["RUN c"])]) == "FROM a\nCOPY x /y\nCMD z\nRUN c"


def test_append_to_run_refuses_heredocs_and_exec_form():
    for text in ('FROM a\nRUN ["cp", "x", "y"]\n', "FROM a\nRUN <<EOF\ncp x y\nEOF\n"):
        inst = parse_dockerfile(text).instructions[1]
        assert append_to_run(src(text), inst, "true") is None


def test_delete_span_keeps_comments_and_blank_lines_around():
    text = "FROM a\n# keep\n\nRUN curl -k \\\n  # inner\n  https://x\n"
    s = src(text)
    start = text.index("-k")
    out = apply_edits(text, delete_span(s, start, start + 2))
    assert out == "FROM a\n# keep\n\nRUN curl \\\n  # inner\n  https://x\n"


def test_flag_from_an_arg_gets_no_fix():
    text = 'FROM debian:12\nARG FLAGS="-fsSL -k"\nRUN curl $FLAGS https://x\n'
    findings, _ = lint_text(text, "Dockerfile", LintOptions(select=["IL110"]))
    assert findings and all(f.fix is None for f in findings)


def test_fix_text_stops_at_a_fixed_point_within_the_pass_limit():
    text = "FROM debian:12\n" + "".join(f"RUN curl -k https://x/{i} \\\n    --insecure\n" for i in range(3))
    result = fix_dockerfile(text, "Dockerfile", LintOptions(select=["IL110"]), unsafe=True, max_passes=10)
    assert "-k" not in result.fixed and "--insecure" not in result.fixed
    assert result.passes <= 10
    assert not result.remaining


def test_overlapping_fixes_apply_in_later_passes():
    """IL201 and IL310 both replace the COPY (insertions after it): one per pass, both in the end."""
    text = "FROM node:20\nCOPY corp.crt /usr/local/share/ca-certificates/corp.crt\nCMD [\"node\", \"app.js\"]\n"
    findings, _ = lint_text(text, "Dockerfile", LintOptions())
    assert {"IL201", "IL310"} <= {f.rule for f in findings if f.fix is not None}
    result = fix_dockerfile(text, "Dockerfile", LintOptions())
    assert result.passes == 2
    assert result.fixed == ("FROM node:20\nCOPY corp.crt /usr/local/share/ca-certificates/corp.crt\n"
                            "ENV NODE_EXTRA_CA_CERTS=/usr/local/share/ca-certificates/corp.crt\n"
                            "RUN update-ca-certificates\nCMD [\"node\", \"app.js\"]\n")
    assert not [f for f in result.remaining if f.rule in ("IL201", "IL310")]


def test_safe_fixes_go_first_so_unsafe_ones_see_their_result():
    """With the CA registered by IL201's fix, curl needs no --cacert: -k is just dropped."""
    text = ("FROM debian:12\nRUN apt-get update && apt-get install -y ca-certificates curl\n"
            "COPY corp.crt /usr/local/share/ca-certificates/corp.crt\nRUN curl -k https://x -o /tmp/x\n")
    alone = fix_dockerfile(text, "Dockerfile", LintOptions(select=["IL110"]), unsafe=True).fixed
    assert "--cacert /usr/local/share/ca-certificates/corp.crt" in alone
    both = fix_dockerfile(text, "Dockerfile", LintOptions(select=["IL110", "IL201"]), unsafe=True).fixed
    assert both.endswith("RUN update-ca-certificates\nRUN curl https://x -o /tmp/x\n")
