"""Fix builders that checks call: `ctx.hit(..., fix=builders.remove_flag(...))`.

Each returns a `Fix` (title, applicability, edits on the original text) or None when no exact,
minimal fix can be proven, e.g. a flag that came from an ARG value or a word whose source text is
not what the shell saw. Facts about families (update command, bundle, how to install the tool)
come from the trust facts (imagelint/facts/) through `stage_facts`.
"""
from __future__ import annotations

import functools
import os
import posixpath
import shlex
from typing import TYPE_CHECKING

from ..dockerfile.model import memoized
from ..dockerfile.queries import INSTALL_VERBS, anchor_target, is_cert_path, is_package_op, op_paths, registers_trust, stage_facts, stage_family
from ..findings import Applicability, Edit, Fix
from .apply import apply_edits
from .edits import (
    Source,
    append_to_run,
    delete_instruction,
    delete_span,
    delete_word_in_string,
    exec_form_tokens,
    insert_after,
    json_string,
    replace_word_in_string,
    verified,
)

if TYPE_CHECKING:
    from ..dockerfile.model import DockerfileModel, FileOp, RunStep, Stage
    from ..dockerfile.parse import Instruction
    from ..dockerfile.shell import Command, ShellWord

SAFE = Applicability.SAFE
UNSAFE = Applicability.UNSAFE
DISPLAY_ONLY = Applicability.DISPLAY_ONLY


# --- registration: each builder is declared with the rules it fixes --------------------------------

BUILDERS: dict[str, list[str]] = {}  # rule id -> the builders that make its fixes


def never_raises(fn):
    """A fix builder that fails leaves the finding without a fix; it never breaks the check."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except Exception:  # noqa: BLE001 - a missing fix is better than a crashed lint
            if os.environ.get("IMAGELINT_FIX_DEBUG"):
                raise
            return None

    return wrapper


def builds(*rule_ids: str):
    """Register a builder as the maker of these rules' fixes; it returns a Fix or None, whatever the input."""

    def register(fn):
        for rule_id in rule_ids:
            BUILDERS.setdefault(rule_id, []).append(fn.__name__)
        return never_raises(fn)

    return register


def source(model: DockerfileModel) -> Source:
    """The model's text with its style facts, built once per model."""
    cached = getattr(model, "_fix_source", None)
    if cached is None:
        cached = Source.of(model.parsed)
        model._fix_source = cached  # type: ignore[attr-defined]
    return cached


def _fix(title: str, applicability: Applicability, edits: list[Edit] | None) -> Fix | None:
    if not edits:
        return None
    return Fix(title, applicability, list(edits))


def _quote(word: str) -> str:
    return shlex.quote(word)


# --- words of RUN commands -------------------------------------------------------------------------

def word_edits(model: DockerfileModel, run: RunStep, word: ShellWord, new_words: list[str] | None) -> list[Edit] | None:
    """Replace one shell word by `new_words` (None: delete it), in shell or exec form."""
    src = source(model)
    inst = run.inst
    if run.exec_form or inst.json_args is not None:
        return _exec_word_edits(src, inst, word, new_words)
    if not verified(src, word.start, word.end, word.raw) or not _literal(word):
        return None  # the word is not literally in the source (ARG value, escaped sh -c string)
    if new_words is None:
        return delete_span(src, word.start, word.end)
    return [Edit(word.start, word.end, " ".join(_quote(w) for w in new_words))]


def _literal(word: ShellWord) -> bool:
    """Is the word's source text its value, maybe quoted (no expansion, no escapes)?"""
    return word.known and word.raw in (word.value, f"'{word.value}'", f'"{word.value}"') and "$" not in word.value


def _exec_word_edits(src: Source, inst: Instruction, word: ShellWord, new_words: list[str] | None) -> list[Edit] | None:
    tokens = exec_form_tokens(src, inst)
    if tokens is None:
        return None
    values = [t[2] for t in tokens]
    direct = [i for i, v in enumerate(values) if v == word.value]
    is_shell = len(values) >= 3 and posixpath.basename(values[0]) in ("sh", "bash", "dash", "ash", "zsh") and values[1].startswith("-") and "c" in values[1]
    if not is_shell and len(direct) == 1:
        i = direct[0]
        s, e, _ = tokens[i]
        if new_words is None:
            if len(tokens) < 2:
                return None
            if i + 1 < len(tokens):
                return [Edit(s, tokens[i + 1][0], "")]
            return [Edit(tokens[i - 1][1], e, "")]
        return [Edit(s, e, ", ".join(json_string(w) for w in new_words))]
    if is_shell:
        script = values[2]
        if new_words is None:
            new_script = delete_word_in_string(script, word.raw)
        else:
            new_script = replace_word_in_string(script, word.raw, " ".join(_quote(w) for w in new_words))
        if new_script is None:
            return None
        s, e, _ = tokens[2]
        return [Edit(s, e, json_string(new_script))]
    return None


def short_flag_without(value: str, letter: str) -> str | None:
    """`-fsSLk` without `k` -> `-fsSL`; `-k` -> None (nothing left)."""
    if not value.startswith("-") or value.startswith("--") or letter not in value[1:]:
        return value
    rest = value[1:].replace(letter, "", 1)
    return "-" + rest if rest else None


@never_raises
def remove_flag(model: DockerfileModel, run: RunStep, word: ShellWord, letter: str | None = None,
                title: str | None = None, applicability: Applicability = UNSAFE,
                add: list[str] | None = None) -> Fix | None:
    """Remove a flag word (or one letter of a short-option cluster), optionally adding words in its place."""
    if letter is not None and word.raw == word.value and not word.value.startswith("--"):
        kept = short_flag_without(word.value, letter)
        new_words = ([kept] if kept else []) + (add or [])
        shown = f"-{letter}"
    else:
        new_words = list(add or [])
        shown = word.value
    edits = word_edits(model, run, word, new_words or None)
    return _fix(title or f"Remove `{shown}`", applicability, edits)


# --- CAs the Dockerfile installs ----------------------------------------------------------------------

def _is_root(user: str | None) -> bool:
    if not user:
        return True
    name = user.split(":", 1)[0].strip()
    return name in ("root", "0", "")


def user_at(stage: Stage, offset: int) -> str | None:
    """The USER in effect at `offset` in the stage chain (None: the base image's, usually root)."""
    current = None
    for s in reversed(stage.chain()):
        for inst, user in s.users:
            if inst.start < offset:
                current = user
    return current


def installed_cas(stage: Stage, before: int | None = None) -> list[tuple[str, FileOp]]:
    """(path, op) of single CA certificate files the stage chain puts into the image before `before`."""
    # Computed once per stage: fixes on big files ask for it once per finding.
    every = memoized(stage, "installed_cas", lambda: _installed_cas(stage))
    return every if before is None else [(p, op) for p, op in every if op.inst.start < before]


def _installed_cas(stage: Stage) -> list[tuple[str, FileOp]]:
    out = []
    for s, op in stage.inherited_file_ops():
        if op.kind not in ("copy", "move", "download", "write"):
            continue
        facts = s.facts or {}
        bundles = set(facts.bundle_paths) | {"/etc/ssl/certs/ca-certificates.crt", "/etc/ssl/cert.pem"}
        targets = anchor_target(s, op) or [p for p in op_paths(op) if is_cert_path(p)]
        for path in targets:
            if "*" in path or "?" in path or "$" in path or path in bundles or path.endswith("/"):
                continue
            if path.lower().endswith((".key", ".p12", ".pfx", ".jks", ".keystore")) or not path.startswith("/"):
                continue
            if posixpath.basename(path) in ("", "."):
                continue
            out.append((path, op))
    return out


def registered_between(stage: Stage, start: int, end: int) -> bool:
    """Does a trust-store update run in the stage chain between two offsets?"""
    def updates() -> list[int]:
        return [cmd.start for s, _run, cmd in stage.inherited_commands() if registers_trust(s, cmd, stage_facts(s))]

    return any(start <= at < end for at in memoized(stage, "trust_updates", updates))


def ca_for_command(stage: Stage, offset: int) -> tuple[str | None, bool]:
    """(CA path, registered in the OS store) for a command at `offset`: the last CA installed before it."""
    cas = installed_cas(stage, offset)
    if not cas:
        return None, False
    path, op = cas[-1]
    op_end = op.command.end if op.command is not None else op.inst.end
    return path, registered_between(stage, op_end, offset)


# --- insecure switches --------------------------------------------------------------------------------

@builds("IL110")
def curl_insecure(model: DockerfileModel, stage: Stage, run: RunStep, cmd: Command, word: ShellWord) -> Fix | None:
    """Drop curl's -k/--insecure (or --proxy-insecure/--doh-insecure); pass an installed CA with --cacert."""
    v = word.value
    if v in ("--proxy-insecure", "--doh-insecure"):
        return remove_flag(model, run, word, title=f"Remove `{v}`")
    letter = None if v in ("-k", "--insecure") else "k"
    ca, registered = ca_for_command(stage, cmd.start)
    has_cacert = any(w.value in ("--cacert", "--capath") or w.value.startswith("--cacert=") for w in cmd.args)
    if ca and not registered and not has_cacert:
        return remove_flag(model, run, word, letter, f"Replace `{'-k' if letter else v}` with `--cacert {ca}`",
                           add=["--cacert", ca])
    return remove_flag(model, run, word, letter, f"Remove `{'-k' if letter else v}` so curl verifies the server")


@builds("IL111")
def wget_no_check(model: DockerfileModel, stage: Stage, run: RunStep, cmd: Command, word: ShellWord) -> Fix | None:
    ca, registered = ca_for_command(stage, cmd.start)
    has_ca = any(w.value.startswith(("--ca-certificate", "--ca-directory")) for w in cmd.args)
    if ca and not registered and not has_ca:
        return remove_flag(model, run, word, title=f"Replace `--no-check-certificate` with `--ca-certificate={ca}`",
                           add=[f"--ca-certificate={ca}"])
    return remove_flag(model, run, word, title="Remove `--no-check-certificate` so wget verifies the server")


# --- environment settings ------------------------------------------------------------------------------

def _pair_span(src: Source, a) -> tuple[int, int] | None:
    """Source span of `NAME=value` (or `NAME value` for legacy ENV) of an assignment, verified."""
    text = src.text
    for start in (a.start, a.start - len(a.name) - 1):
        if 0 <= start < a.end <= len(text) and text.startswith(a.name, start):
            rest = text[start + len(a.name):start + len(a.name) + 1]
            if rest in ("=", " ", "\t"):
                return start, a.end
    return None


def _export_command_span(src: Source, start: int) -> int | None:
    """Start of `export` before an assignment that starts at `start`, when it is the only one."""
    head = src.text[src.line_start(start):start].rstrip(" \t")
    if head.endswith("export"):
        return start - (len(src.text[src.line_start(start):start]) - len(head)) - len("export")
    return None


@never_raises
def remove_setting(model: DockerfileModel, a, title: str, applicability: Applicability = UNSAFE,
                   replacement: tuple[str, str] | None = None) -> Fix | None:
    """Remove (or replace by NAME=value) one assignment: an ENV/ARG pair, a `VAR=x cmd` prefix, an export.

    An ENV/ARG instruction whose only pair it was goes away entirely.
    """
    src = source(model)
    span = _pair_span(src, a)
    if span is None:
        return None
    start, end = span
    inst = a.inst
    if replacement is not None:
        name, value = replacement
        legacy = src.text[start + len(a.name):start + len(a.name) + 1] in (" ", "\t")
        new = f"{name} {value}" if legacy else f"{name}={_quote(value) if a.kind != 'ENV' else _env_quote(value)}"
        return _fix(title, applicability, [Edit(start, end, new)])
    if a.kind in ("ENV", "ARG"):
        pairs = [s for s in a.stage.env_settings if s.inst is inst] if a.stage is not None else []
        if inst.keyword == "ARG" and a.stage is None:
            pairs = [a]
        if len(pairs) <= 1:
            return _fix(title, applicability, delete_instruction(src, inst))
        later = [p.start for p in pairs if p.start > start]
        if later and all(p.start >= start for p in pairs) and inst.json_args is None:
            # The first pair: the next one moves up to the keyword (`ENV A=0 \` + `  B=1` -> `ENV B=1`).
            return _fix(title, applicability, [Edit(start, min(later), "")])
        return _fix(title, applicability, delete_span(src, start, end))
    if a.kind == "export":
        export_start = _export_command_span(src, start)
        run = next((r for r in a.stage.runs if r.inst is inst), None)
        if export_start is not None and run is not None:
            edits = _delete_command_span(src, run, export_start, end)
            return _fix(title, applicability, edits)
        return None
    # A `VAR=x cmd` prefix.
    return _fix(title, applicability, delete_span(src, start, end))


def _env_quote(value: str) -> str:
    if value and all(c.isalnum() or c in "-_./:@%+,~" for c in value):
        return value
    return json_string(value)


def _delete_command_span(src: Source, run: RunStep, start: int, end: int) -> list[Edit] | None:
    """Delete a command [start, end) of a shell-form RUN with the `&&`/`;` that joins it to the next."""
    text = src.text
    inst = run.inst
    inst_end = src.instruction_end(inst)
    pos = end
    # Skip blanks and line continuations up to the connector.
    def skip(pos: int) -> int:
        while pos < inst_end:
            if text[pos] in " \t":
                pos += 1
            elif text.startswith(src.escape, pos) and src.is_continuation_tail(pos):
                pos = src.next_line_start(pos)
            elif text[pos] in "\r\n":
                pos += 1
            else:
                break
        return pos
    after = skip(pos)
    for connector in ("&&", ";"):
        if text.startswith(connector, after):
            nxt = skip(after + len(connector))
            return [Edit(start, nxt, "")]
    # The last command: remove it with the connector before it.
    before = text[inst.start:start].rstrip()
    for connector in ("&&", ";"):
        if before.endswith(connector):
            cut = inst.start + len(before) - len(connector)
            cut = len(text[:cut].rstrip(" \t"))
            # Take back a continuation line ending before the connector.
            while text[:cut].endswith(src.escape) or text[cut - 1:cut] in ("\n", "\r"):
                cut = len(text[:cut].rstrip(" \t\r\n"))
                if text[:cut].endswith(src.escape):
                    cut = len(text[:cut - len(src.escape)].rstrip(" \t"))
            return [Edit(cut, end, "")]
    if len(run.commands) <= 1 and not [c for c in run.commands if c.start < start or c.start >= end]:
        return delete_instruction(src, inst)
    return None


@builds("IL101")
def node_tls_reject(model: DockerfileModel, a) -> Fix | None:
    """NODE_TLS_REJECT_UNAUTHORIZED=0 -> removed, or NODE_EXTRA_CA_CERTS=<the CA the Dockerfile installs>."""
    # ENV applies when the container runs, when every file is in place; build-time settings need
    # the CA before them.
    cas = installed_cas(a.stage, None if a.kind == "ENV" else a.inst.start)
    ca = cas[-1][0] if cas else None
    if ca and a.kind in ("ENV", "ARG", "RUN"):
        return remove_setting(model, a, f"Replace NODE_TLS_REJECT_UNAUTHORIZED=0 with NODE_EXTRA_CA_CERTS={ca}",
                              UNSAFE, replacement=("NODE_EXTRA_CA_CERTS", ca))
    return remove_setting(model, a, "Remove NODE_TLS_REJECT_UNAUTHORIZED=0 so Node verifies certificates")


@builds("IL102")
def git_ssl_no_verify(model: DockerfileModel, a) -> Fix | None:
    return remove_setting(model, a, "Remove GIT_SSL_NO_VERIFY so git verifies certificates")


# --- CA registration -------------------------------------------------------------------------------------

def _installs_ca_package(stage: Stage, before: int, package: str) -> bool:
    return any(cmd.start < before and is_package_op(cmd, INSTALL_VERBS, package) for _s, _r, cmd in stage.inherited_commands())


def update_command_for(stage: Stage, at: int) -> str | None:
    """The family's update command, preceded by installing its tool where the base lacks it."""
    facts = stage_facts(stage)
    update = facts.update_command
    if not update:
        return None
    family = stage_family(stage)
    ca_tool = stage.image.get("ca_tool")
    package = facts.ca_package or "ca-certificates"
    installed = _installs_ca_package(stage, at, package)
    needs_tool = not installed and (ca_tool is False or (family in ("alpine", "wolfi") and ca_tool is not True))
    if needs_tool and facts.install_ca_tool:
        return f"{facts.install_ca_tool} && {update}"
    return update


@builds("IL201")
def register_ca(model: DockerfileModel, stage: Stage, op: FileOp) -> Fix | None:
    """Run the family's update command right after the last copy into the anchors (IL201)."""
    command = update_command_for(stage, op.inst.start)
    if command is None:
        return None
    src = source(model)
    user = user_at(stage, op.inst.start)
    title = f"Run `{command}` after the copy"
    if not _is_root(user):
        edit = insert_after(src, op.inst, ["USER root", f"RUN {command}", f"USER {user}"])
        return _fix(title + " (as root)", SAFE, [edit])
    if op.command is not None:
        edit = append_to_run(src, op.inst, command)
        if edit is not None:
            return _fix(title, SAFE, [edit])
    return _fix(title, SAFE, [insert_after(src, op.inst, [f"RUN {command}"])])


# --- generic ENV / COPY insertions for the runtime and stage families ----------------------------------

@never_raises
def add_env_after(model: DockerfileModel, anchor: Instruction, name: str, value: str, title: str,
                  applicability: Applicability = SAFE) -> Fix | None:
    src = source(model)
    return _fix(title, applicability, [insert_after(src, anchor, [f"ENV {name}={_env_quote(value)}"])])


@never_raises
def add_lines_after(model: DockerfileModel, anchor: Instruction, lines: list[str], title: str,
                    applicability: Applicability = SAFE) -> Fix | None:
    return _fix(title, applicability, [insert_after(source(model), anchor, lines)])


@never_raises
def set_setting_value(model: DockerfileModel, a, value: str, title: str, applicability: Applicability = UNSAFE) -> Fix | None:
    """Point an ENV/ARG/prefix variable at another value, keeping its name and form."""
    return remove_setting(model, a, title, applicability, replacement=(a.name, value))


@never_raises
def replace_path_word(model: DockerfileModel, inst: Instruction, start: int, end: int, expected: str, new: str,
                      title: str, applicability: Applicability = SAFE) -> Fix | None:
    """Replace a path word (a COPY destination, a cp target) whose source text is `expected`."""
    src = source(model)
    if inst.json_args is not None:
        tokens = exec_form_tokens(src, inst)
        if tokens is None:
            return None
        matches = [t for t in tokens if t[2] == expected]
        if len(matches) != 1:
            return None
        s, e, _ = matches[0]
        return _fix(title, applicability, [Edit(s, e, json_string(new))])
    if not verified(src, start, end, expected):
        return None
    return _fix(title, applicability, [Edit(start, end, new)])


@never_raises
def copy_from_stage(model: DockerfileModel, target: Stage, from_label: str, path: str, title: str,
                    applicability: Applicability = SAFE, anchor: Instruction | None = None) -> Fix | None:
    """`COPY --from=<stage> <path> <path>` right after the target stage's FROM (or `anchor`)."""
    line = f"COPY --from={from_label} {path} {path}"
    return _fix(title, applicability, [insert_after(source(model), anchor or target.from_inst, [line])])


def guidance(title: str) -> Fix:
    """Display-only: text guidance, never applied."""
    return Fix(title, DISPLAY_ONLY, [])


# --- runtimes: Java, Node, Python ----------------------------------------------------------------------

def _alias_for(path: str) -> str:
    name = posixpath.basename(path)
    stem = name.rsplit(".", 1)[0] if "." in name else name
    alias = "".join(c if c.isalnum() or c in "-_." else "-" for c in stem).strip("-.") or "custom-ca"
    return alias.lower()


def _run_lines_after(model: DockerfileModel, stage: Stage, anchor: Instruction, command: str, title: str,
                     applicability: Applicability, chain_into: bool) -> Fix | None:
    """Run `command` right after `anchor`: chained into the anchor RUN when `chain_into`, else a new RUN;
    wrapped in USER root / USER <user> when a non-root user is in effect."""
    src = source(model)
    user = user_at(stage, anchor.start)
    if not _is_root(user):
        return _fix(title + " (as root)", applicability,
                    [insert_after(src, anchor, ["USER root", f"RUN {command}", f"USER {user}"])])
    if chain_into:
        edit = append_to_run(src, anchor, command)
        if edit is not None:
            return _fix(title, applicability, [edit])
    return _fix(title, applicability, [insert_after(src, anchor, [f"RUN {command}"])])


@builds("IL301")
def java_import(model: DockerfileModel, stage: Stage, op: FileOp, ca_path: str, java_version: int | None = None,
                java_home: str | None = None) -> Fix | None:
    """IL301: import the CA into the JVM's own cacerts with keytool (adoptium/containers entrypoint.sh; keytool 17 as observed)."""
    if any(c in ca_path for c in "*?$"):
        return None
    if java_version == 8:
        store = f"-keystore {posixpath.join(java_home, 'jre/lib/security/cacerts') if java_home else '$JAVA_HOME/jre/lib/security/cacerts'}"
    else:
        store = "-cacerts"
    command = (f"keytool -importcert -noprompt {store} -storepass changeit -alias {_quote(_alias_for(ca_path))} "
               f"-file {_quote(ca_path)}")
    return _run_lines_after(model, stage, op.inst, command, "Import the CA into the JVM's cacerts with keytool",
                            UNSAFE, op.command is not None)


def add_word_after(model: DockerfileModel, run: RunStep, word: ShellWord, new: str, title: str,
                   applicability: Applicability = SAFE) -> Fix | None:
    """Insert one word right after `word` (e.g. `-noprompt` after `-importcert`)."""
    src = source(model)
    if run.exec_form or run.inst.json_args is not None:
        edits = _exec_word_edits(src, run.inst, word, [word.value, new])
        return _fix(title, applicability, edits)
    if not verified(src, word.start, word.end, word.raw):
        return None
    return _fix(title, applicability, [Edit(word.end, word.end, " " + _quote(new))])


@builds("IL302")
def keytool_noprompt(model: DockerfileModel, run: RunStep, cmd: Command) -> Fix | None:
    """IL302: `-noprompt` after `-importcert`/`-import`."""
    word = next((w for w in cmd.args if w.value.lower() in ("-importcert", "-import")), None)
    if word is None:
        return None
    return add_word_after(model, run, word, "-noprompt", "Add `-noprompt` so keytool imports without asking")


@builds("IL310")
def node_extra_ca(model: DockerfileModel, op: FileOp, ca_path: str) -> Fix | None:
    """IL310: ENV NODE_EXTRA_CA_CERTS=<the CA> after it is copied (Node docs: it adds to the bundled roots)."""
    if any(c in ca_path for c in "*?$"):
        return None
    return add_env_after(model, op.inst, "NODE_EXTRA_CA_CERTS", ca_path,
                         f"Set NODE_EXTRA_CA_CERTS={ca_path} so Node trusts the CA too", SAFE)


@builds("IL320")
def requests_bundle(model: DockerfileModel, stage: Stage, op: FileOp) -> Fix | None:
    """IL320: ENV REQUESTS_CA_BUNDLE=<the family's regenerated bundle>, never the single CA."""
    bundle = stage_facts(stage).bundle
    if not bundle:
        return None
    return add_env_after(model, op.inst, "REQUESTS_CA_BUNDLE", bundle,
                         f"Set REQUESTS_CA_BUNDLE={bundle} (the system bundle) so requests trusts the CA", SAFE)


@builds("IL330")
def point_at_bundle(model: DockerfileModel, a, stage: Stage | None = None) -> Fix | None:
    """IL330: a CA variable naming one CA file -> the family's regenerated bundle."""
    stage = stage or a.stage
    bundle = stage_facts(stage).bundle
    value = getattr(a, "value", getattr(a, "path", None))
    if not bundle or value == bundle or a.kind not in ("ENV", "ARG", "RUN", "export") or not a.name.isidentifier():
        return None
    if not registered_between(stage, 0, a.inst.start if a.kind != "ENV" else len(model.parsed.text)):
        return None  # the bundle holds the CA only once it is registered: IL201/IL2xx first
    return set_setting_value(model, a, bundle, f"Point {a.name} at the system bundle {bundle}", UNSAFE)


# --- OS store: wrong name or directory, bundle overwritten, tool missing -----------------------------------

def _literal_path(raw: str) -> bool:
    return bool(raw) and not any(c in raw for c in "$`'\"*?[\\")


def destination_edit(model: DockerfileModel, op: FileOp, new_path: str) -> Edit | None:
    """Replace the destination word of a COPY/ADD/cp/mv so the file lands at `new_path` (absolute)."""
    src = source(model)
    if not op.start or op.end <= op.start:
        return None
    raw = src.text[op.start:op.end]
    if op.inst.json_args is not None or not _literal_path(raw):
        return None
    if op.is_dir or raw.endswith("/"):
        # A directory destination: only one source file may be renamed through it.
        if len(op.sources) != 1 or "." not in posixpath.basename(op.sources[0].rstrip("/")) or op.sources[0].endswith("/"):
            return None
    return Edit(op.start, op.end, new_path)


def destination_dir_edit(model: DockerfileModel, op: FileOp, old_dir: str, new_dir: str) -> Edit | None:
    """Replace the directory part `old_dir` of the destination word by `new_dir`, keeping the rest."""
    src = source(model)
    if not op.start or op.end <= op.start or op.inst.json_args is not None:
        return None
    raw = src.text[op.start:op.end]
    if not _literal_path(raw) or not raw.startswith(old_dir):
        return None
    rest = raw[len(old_dir):]
    if rest and not rest.startswith("/"):
        return None
    return Edit(op.start, op.end, new_dir + rest)


@never_raises
def rename_destination(model: DockerfileModel, op: FileOp, new_path: str, title: str,
                       applicability: Applicability = SAFE) -> Fix | None:
    edit = destination_edit(model, op, new_path)
    return _fix(title, applicability, [edit] if edit else None)


@never_raises
def move_destination_dir(model: DockerfileModel, op: FileOp, old_dir: str, new_dir: str, title: str,
                         applicability: Applicability = SAFE) -> Fix | None:
    edit = destination_dir_edit(model, op, old_dir, new_dir)
    return _fix(title, applicability, [edit] if edit else None)


def crt_name(path: str, extension: str = ".crt") -> str:
    stem, ext = posixpath.splitext(path)
    return path if ext == extension else stem + extension


def _with_lines_after(src: Source, inst: Instruction, inner: list[Edit], lines: list[str]) -> Edit:
    """One whole-instruction replacement: `inner` edits inside `inst`, then `lines` after it."""
    start, end = inst.start, src.instruction_end(inst)
    shifted = [Edit(e.start - start, e.end - start, e.text) for e in inner]
    body = apply_edits(src.text[start:end], shifted)
    indent = src.indent_of(inst.start)
    return Edit(start, end, body + "".join(src.newline + indent + line for line in lines))


@builds("IL202", "IL220", "IL222")
def move_into_anchors(model: DockerfileModel, stage: Stage, op: FileOp, title: str,
                      applicability: Applicability = UNSAFE, name: str | None = None) -> Fix | None:
    """Put the CA into the family's anchor directory instead (a .crt name where the family needs it)
    and run the update command after it (IL202, IL222, IL230)."""
    facts = stage_facts(stage)
    anchors = facts.anchor_dirs or []
    if not anchors:
        return None
    base = name or posixpath.basename(op.targets()[0] if (op.is_dir and op.sources) else op.path)
    if facts.anchor_extension:
        base = crt_name(base, facts.anchor_extension)
    edit = destination_edit(model, op, posixpath.join(anchors[0], base))
    if edit is None:
        return None
    command = update_command_for(stage, op.inst.start)
    if command is None:
        return _fix(title, applicability, [edit])
    if not _is_root(user_at(stage, op.inst.start)):
        return _fix(title, applicability, [edit])  # the update needs root: IL201 says how
    return _fix(title, applicability, [_with_lines_after(source(model), op.inst, [edit], [f"RUN {command}"])])


@builds("IL210")
def install_tool_before(model: DockerfileModel, stage: Stage, cmd: Command) -> Fix | None:
    """IL210: `<install ca-certificates> && ` right before the update command."""
    install = stage_facts(stage).install_ca_tool
    src = source(model)
    first = cmd.argv[0] if cmd.argv else None
    if not install or first is None or cmd.start != first.start or cmd.assignments:
        return None
    if not verified(src, first.start, first.end, first.raw):
        return None
    return _fix(f"Install the tool first: `{install}`", SAFE, [Edit(cmd.start, cmd.start, install + " && ")])


@builds("IL231")
def anchor_instead_of_append(model: DockerfileModel, stage: Stage, op: FileOp) -> Fix | None:
    """IL231: `cat ca.crt >> <bundle>` -> `cat ca.crt > <anchor>/ca.crt && <update>`."""
    facts = stage_facts(stage)
    anchors = facts.anchor_dirs or []
    cmd = op.command
    if not anchors or cmd is None:
        return None
    redirect = next((r for r in cmd.redirects if r.target is not None and r.target.start == op.start and r.op == ">>"), None)
    if redirect is None:
        return None
    src = source(model)
    if not verified(src, redirect.target.start, redirect.target.end, redirect.target.raw):
        return None
    name = next((posixpath.basename(s) for s in op.sources if s), "custom-ca.crt")
    name = crt_name(name, facts.anchor_extension or posixpath.splitext(name)[1] or ".crt")
    update = update_command_for(stage, op.inst.start)
    if update is None:
        return None
    # Replace `>> target` by `> anchor/name`, then chain the update right after the redirect.
    op_start = src.text.rfind(">>", 0, redirect.target.start)
    if op_start < 0 or src.text[op_start:redirect.target.start].strip() != ">>":
        return None
    edits = [Edit(op_start, redirect.target.end, f"> {posixpath.join(anchors[0], name)} && {update}")]
    return _fix("Copy the CA into the anchor directory and run the update instead of appending to the bundle",
                UNSAFE, edits)


# --- stages ---------------------------------------------------------------------------------------------

@builds("IL401", "IL402")
def bundle_from_stage(model: DockerfileModel, shipped: Stage, builder: Stage, title: str | None = None,
                      applicability: Applicability = UNSAFE) -> Fix | None:
    """IL401/IL402: `COPY --from=<builder> <bundle> <bundle>` right after the shipped stage's FROM."""
    bundle = stage_facts(builder).bundle
    if not bundle or not builder.name:
        return None
    target = stage_facts(shipped).bundle or "/etc/ssl/certs/ca-certificates.crt"
    line = f"COPY --from={builder.name} {bundle} {target}"
    return _fix(title or f"Copy the CA bundle from stage {builder.name}", applicability,
                [insert_after(source(model), shipped.from_inst, [line])])


def stage_with_bundle(model: DockerfileModel, shipped: Stage) -> Stage | None:
    """The last named stage (not in the shipped chain) whose family has a CA bundle."""
    chain = shipped.chain()
    for stage in reversed(model.stages):
        if stage in chain or not stage.name or stage.index > shipped.index:
            continue
        facts = stage_facts(stage)
        if facts.bundle and not facts.no_bundle:
            return stage
    return None


@builds("IL402")
def no_bundle_fix(model: DockerfileModel, shipped: Stage) -> Fix:
    """IL402: copy the bundle from a builder that has one, else guidance naming a builder."""
    builder = stage_with_bundle(model, shipped)
    fix = bundle_from_stage(model, shipped, builder) if builder is not None else None
    if fix is not None:
        return fix
    return guidance("Add a builder stage that has a CA bundle and copy it: `FROM debian:12 AS certs` + "
                    "`RUN apt-get update && apt-get install -y ca-certificates`, then in this stage "
                    "`COPY --from=certs /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt`")


@builds("IL403")
def bundle_file_instead_of_dir(model: DockerfileModel, op: FileOp, source_dir: str) -> Fix | None:
    """IL403: `COPY --from=x /etc/ssl/certs /etc/ssl/certs` -> the bundle file only."""
    src = source(model)
    inst = op.inst
    if inst.json_args is not None:
        return None
    words = inst.words(src.escape)
    if len(words) != 2:
        return None
    source_word, dest_word = words
    if source_word.raw.rstrip("/") != source_dir.rstrip("/") or not _literal_path(dest_word.raw):
        return None
    bundle = "/etc/ssl/certs/ca-certificates.crt"
    dest = dest_word.raw.rstrip("/")
    if dest not in ("/etc/ssl/certs", "/etc/ssl"):
        return None
    edits = [Edit(source_word.start, source_word.end, bundle), Edit(dest_word.start, dest_word.end, bundle)]
    return _fix("Copy the bundle file instead of the directory of links", SAFE, edits)


# --- insecure switches reported through `Switch` objects --------------------------------------------------

# Options whose value is the next word (`--trusted-host HOST`).
_OPTION_WITH_VALUE = {"--trusted-host", "--allow-insecure-host", "--insecure-host", "--setopt"}


def remove_switch_word(model: DockerfileModel, run: RunStep, cmd: Command, word: ShellWord, title: str,
                       applicability: Applicability = UNSAFE) -> Fix | None:
    """Remove a flag word (and the value word after it when the option takes one)."""
    args = cmd.args
    if word not in args:
        return None
    i = args.index(word)
    edits = word_edits(model, run, word, None)
    if edits is None:
        return None
    if word.value in _OPTION_WITH_VALUE and i + 1 < len(args):
        value_edits = word_edits(model, run, args[i + 1], None)
        if value_edits is None or run.exec_form:
            return None
        edits = [Edit(word.start, args[i + 1].end, "")]
        edits = delete_span(source(model), word.start, args[i + 1].end)
    return _fix(title, applicability, edits)


def remove_command(model: DockerfileModel, run: RunStep, cmd: Command, title: str,
                   applicability: Applicability = UNSAFE) -> Fix | None:
    """Remove a whole command (`npm config set strict-ssl false`) from its RUN, with its `&&`."""
    if run.exec_form or run.inst.json_args is not None or cmd.parent is not None:
        return None
    src = source(model)
    if cmd.redirects or cmd.piped_from is not None or cmd.stdin is not None:
        return None
    if not any(c is cmd for c in run.commands):
        return None
    end = max(w.end for w in cmd.argv) if cmd.argv else cmd.end
    return _fix(title, applicability, _delete_command_span(src, run, cmd.start, end))


# Boolean switches that stand alone (no value word follows them).
_STANDALONE_SWITCHES = {
    "--no-check-certificate", "--allow-untrusted", "--nogpgcheck", "--no-gpgcheck", "--no-gpg-checks",
    "--allow-unauthenticated", "--force-yes", "--allow-downgrades", "--insecure", "--insecure-skip-tls-verify",
    "--skip-tls-verify", "--no-verify-ssl", "--nosignature", "--nodigest", "--noverify", "--nofiledigest",
    "--force-bad-verify", "--sslv2", "--sslv3", "--tlsv1", "--tlsv1.0", "--tlsv1.1", "--ssl-no-revoke",
    "--disable-tls", "--no-strict-ssl", "--unsafely-ignore-certificate-errors", "--ignore-certs",
    "--tls-min-v1.0", "--tls-min-v1.1", "--disable-ssl-verification", "-insecure", "--kube-insecure-skip-tls-verify",
}
_CONFIG_TOOLS = {"git", "npm", "yarn", "pnpm", "pip", "pip3", "poetry", "composer", "bundle", "conda", "mamba",
                 "micromamba", "gcloud", "kubectl", "helm", "go", "zypper"}


@builds("IL110", "IL111", "IL112", "IL113", "IL114", "IL115", "IL116", "IL117", "IL130", "IL140")
def config_line_fix(model: DockerfileModel, stage: Stage, op: FileOp, setting: str, lines: list[str],
                    context_file: str | None = None, path: str | None = None) -> Fix | None:
    """A verification switch in a config file. A RUN command that writes only that setting
    (`echo 'strict-ssl=false' >> ~/.npmrc`) is removed; otherwise the line to delete is named
    (display-only): in the RUN's text, or in the build-context file the COPY takes."""
    path = path or op.path
    if context_file is not None:
        return guidance(f"Delete `{setting}` from {context_file} (copied to {path})")
    cmd = op.command
    run = next((r for r in stage.runs if r.inst is op.inst), None)
    content = [ln for ln in lines if ln.strip() and not ln.lstrip().startswith(("#", ";"))]
    if run is not None and cmd is not None and len(content) == 1 and op.kind in ("write", "append") \
            and not run.exec_form and cmd.parent is None and cmd.piped_from is None and cmd.stdin is None \
            and cmd.name in ("echo", "printf") and any(c is cmd for c in run.commands):
        src = source(model)
        end = max(w.end for w in cmd.argv)
        for r in sorted(cmd.redirects, key=lambda r: r.start):
            # the command's own redirects follow it directly; a group's (`{ a; b; } > f`) do not
            if r.target is not None and r.start >= end and src.text[end:r.start].strip(" \t\\\r\n") == "":
                end = max(end, r.target.end)
        edits = _delete_command_span(src, run, cmd.start, end)
        if edits:
            return _fix(f"Remove the command that writes `{content[0].strip()}` to {path}", UNSAFE, edits)
    return guidance(f"Delete `{setting}` from the text this {op.inst.keyword} writes to {path}")


@never_raises
def switch_fix(model: DockerfileModel, switch) -> Fix | None:
    """A fix for an insecure switch found in a RUN command (`Switch` of the insecure_* checks):
    drop a standalone flag (or `--opt=value`, or `--trusted-host HOST`), or drop a whole
    `<tool> config ...` command. Config-file lines and anything unclear get no fix."""
    from ..catalogue import load_catalogue

    doc = load_catalogue().get(switch.rule)
    if doc is not None and doc.fix == "display-only":
        return guidance(doc.sections.get("Fix", doc.title).split("\n\n")[0].replace("\n", " "))
    if doc is not None and doc.fix != "unsafe":
        return None
    if switch.start is None or switch.end is None:
        return None
    run = next((r for r in switch.stage.runs if r.inst is switch.inst), None)
    if run is None:
        return None
    cmd = next((c for c in run.commands if c.start == switch.order), None)
    if cmd is None:
        return None
    word = next((w for w in cmd.argv if w.start == switch.start and w.end == switch.end), None)
    if word is None:
        return None
    value = word.value
    title = f"Remove `{value}`"
    args = cmd.args
    i = args.index(word) if word in args else -1
    if cmd.name == "git" and i > 0 and args[i - 1].value == "-c" and not run.exec_form:
        # `git -c http.sslVerify=false clone ...`: drop the pair (git reads the system store, where a
        # CA the Dockerfile registers already is).
        if word_edits(model, run, args[i - 1], None) is None or word_edits(model, run, word, None) is None:
            return None
        return _fix(f"Remove `-c {value}` so git verifies the server", UNSAFE,
                    delete_span(source(model), args[i - 1].start, word.end))
    if value.startswith("-"):
        if value == "--trusted-host" and cmd.name.startswith("pip"):
            bundle = _registered_bundle(switch.stage, cmd.start)
            if bundle and 0 <= i < len(args) - 1 and not run.exec_form:
                edits = word_edits(model, run, word, ["--cert", bundle])
                value_edits = word_edits(model, run, args[i + 1], None)
                if edits and value_edits:
                    return _fix(f"Replace `--trusted-host` with `--cert {bundle}`", UNSAFE,
                                [Edit(word.start, args[i + 1].end, f"--cert {_quote(bundle)}")])
        if (value in _STANDALONE_SWITCHES or value in _OPTION_WITH_VALUE or (value.startswith("--") and "=" in value)
                or (value.startswith("-D") and "=" in value)):
            return remove_switch_word(model, run, cmd, word, title)
        return None
    if cmd.name in _CONFIG_TOOLS and any(w.value == "config" for w in cmd.args[:2]):
        return remove_command(model, run, cmd, f"Remove `{cmd.name} config ...` that turns verification off")
    return None


def _registered_bundle(stage: Stage, before: int) -> str | None:
    """The family's bundle when a CA was installed and registered in the OS store before `before`."""
    bundle = stage_facts(stage).bundle
    cas = installed_cas(stage, before)
    if not bundle or not cas:
        return None
    _path, op = cas[-1]
    op_end = op.command.end if op.command is not None else op.inst.end
    return bundle if registered_between(stage, op_end, before) else None


@builds("IL103")
def env_switch_fix(model: DockerfileModel, a) -> Fix | None:
    """IL103: remove the variable; where the Dockerfile installs a CA, give the tool that CA instead
    (PIP_TRUSTED_HOST -> PIP_CERT=<regenerated bundle>, npm strict-ssl -> NODE_EXTRA_CA_CERTS=<the CA>)."""
    at = len(model.parsed.text) if a.kind == "ENV" else a.inst.start
    if a.name == "PIP_TRUSTED_HOST":
        bundle = _registered_bundle(a.stage, at)
        if bundle:
            return remove_setting(model, a, f"Replace PIP_TRUSTED_HOST with PIP_CERT={bundle}", UNSAFE,
                                  replacement=("PIP_CERT", bundle))
    if a.name.lower() == "npm_config_strict_ssl":
        cas = installed_cas(a.stage, None if a.kind == "ENV" else a.inst.start)
        if cas:
            return remove_setting(model, a, f"Replace {a.name} with NODE_EXTRA_CA_CERTS={cas[-1][0]}", UNSAFE,
                                  replacement=("NODE_EXTRA_CA_CERTS", cas[-1][0]))
    return remove_setting(model, a, f"Remove {a.name}")


@builds("IL303")
def keytool_store(model: DockerfileModel, run: RunStep, cmd: Command, case: str, java_home: str | None = None) -> Fix | None:
    """IL303: point keytool at the store the JVM reads, with the password it has (keytool 17 as observed;
    docker-library/official-images#5984).

    case: "java8-cacerts" (-cacerts -> -keystore <JDK 8 path>), "use-cacerts" (-keystore X -> -cacerts),
    "add-storepass" (append -storepass changeit), "storepass" (the password -> changeit)."""
    src = source(model)
    if run.exec_form or run.inst.json_args is not None:
        return None
    args = cmd.args
    lowered = [w.value.lower() for w in args]
    if case == "java8-cacerts":
        if "-cacerts" not in lowered:
            return None
        w = args[lowered.index("-cacerts")]
        store = posixpath.join(java_home, "jre/lib/security/cacerts") if java_home else '"$JAVA_HOME/jre/lib/security/cacerts"'
        if not verified(src, w.start, w.end, w.raw):
            return None
        return _fix("Use -keystore with the Java 8 cacerts path", UNSAFE, [Edit(w.start, w.end, f"-keystore {store}")])
    if case == "use-cacerts":
        if "-keystore" not in lowered:
            return None
        i = lowered.index("-keystore")
        if i + 1 >= len(args) or "-storetype" in lowered:
            return None
        opt, value = args[i], args[i + 1]
        if not (verified(src, opt.start, opt.end, opt.raw) and verified(src, value.start, value.end, value.raw)):
            return None
        if src.text[opt.end:value.start].strip(" \t"):
            return None  # something (a continuation) between the option and its value: leave it
        return _fix("Import into the JVM's own store with -cacerts", UNSAFE, [Edit(opt.start, value.end, "-cacerts")])
    if case == "add-storepass":
        action = next((w for w in args if w.value.lower() in ("-importcert", "-import")), None)
        if action is None or not verified(src, action.start, action.end, action.raw):
            return None
        return _fix("Add -storepass changeit", UNSAFE, [Edit(action.end, action.end, " -storepass changeit")])
    if case == "storepass":
        if "-storepass" not in lowered:
            return None
        i = lowered.index("-storepass")
        if i + 1 >= len(args):
            return None
        value = args[i + 1]
        if not verified(src, value.start, value.end, value.raw):
            return None
        return _fix("Use the default cacerts password changeit", UNSAFE, [Edit(value.start, value.end, "changeit")])
    return None


@builds("IL203")
def keep_package(model: DockerfileModel, run: RunStep, cmd: Command, word: ShellWord) -> Fix | None:
    """IL203: take ca-certificates off the purge/del list (the whole command when it was the only package)."""
    packages = [w for w in cmd.args if not w.value.startswith("-") and w.value not in
                ("purge", "remove", "autoremove", "del", "erase")]
    title = f"Keep {word.value} installed"
    if len(packages) > 1:
        return _fix(title, UNSAFE, word_edits(model, run, word, None))
    return remove_command(model, run, cmd, title)
