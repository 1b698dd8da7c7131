"""The semantic model of a Dockerfile: stages, ARG/ENV resolution, OS family, commands, file writes.

Rules read only this model. It is built once per file and is immutable afterwards.
"""
from __future__ import annotations

import fnmatch
import re
import posixpath
from ..records import record, field
from typing import Iterator, Mapping

from ..facts import Family, base_image_facts, family
from ..findings import ImagelintError
from ..image.reference import parse_base_name
from .budget import DEFAULT_LIMITS, Budget, DockerfileLimits, spending
from .budget import current as current_budget
from .envmap import VersionedEnv
from .expand import expand
from .parse import Instruction, ParsedDockerfile, split_words
from .shell import Command, Script, linear, parse_script

DEFAULT_SHELL = ["/bin/sh", "-c"]


# --- base image references --------------------------------------------------------------------

def classify_image(raw: str, base_images: dict[str, str] | None = None) -> dict:
    """The trust facts' [[image]] entry for a FROM reference, or {} when unknown. `base_images`
    (the configuration's [base-images], glob -> family) comes first: a private base image is
    known only to its users."""
    name = parse_base_name(raw)
    for pattern, fam in (base_images or {}).items():
        candidates = (name.repository_path, name.short_repository, raw.strip().lower(),
                      f"{name.repository_path}:{name.tag}" if name.tag else name.repository_path)
        if any(fnmatch.fnmatchcase(c, pattern) for c in candidates):
            return {"family": fam, "configured": pattern}
    return base_image_facts(name.repository_path, name.short_repository, name.tag or "")


# --- model types --------------------------------------------------------------------------------

@record(eq=False, slots=True)
class FileOp:
    """Something an instruction does to a path in the image."""

    kind: str  # write | append | copy | move | link | download | edit | delete | chmod | chown | mkdir
    path: str  # absolute path in the image (directory ops end without '/')
    inst: Instruction
    command: Command | None = None
    content: str | None = None  # known content written (heredoc, echo, printf, COPY <<EOF)
    sources: list[str] = field(default_factory=list)  # source paths (COPY/ADD sources, cp sources, URLs)
    from_stage: "Stage | None" = None  # COPY --from=<stage>
    from_image: str | None = None  # COPY --from=<image>
    is_dir: bool = False  # destination is a directory (sources keep their names)
    mode: str | None = None  # chmod mode / COPY --chmod
    owner: str | None = None  # chown / COPY --chown
    recursive: bool = False
    start: int = 0  # source offsets of the destination word (for findings and fixes)
    end: int = 0
    known: bool = True  # False when the destination holds a variable we cannot resolve

    def targets(self) -> list[str]:
        """Paths that exist after the op (a directory destination gets each source's basename)."""
        if self.is_dir and self.sources:
            return [posixpath.join(self.path, posixpath.basename(s.rstrip("/")) or "") for s in self.sources]
        return [self.path]


@record(eq=False, slots=True)
class RunStep:
    inst: Instruction
    script: Script
    shell: list[str]
    env: dict[str, str | None]  # variables visible to the RUN (ARG + ENV + base image ENV we know)
    user: str | None
    exec_form: bool = False
    workdir: str = "/"  # WORKDIR in effect (relative paths in the RUN's commands start here)

    @property
    def commands(self) -> list[Command]:
        return self.script.commands


@record(eq=False, slots=True)
class EnvSetting:
    name: str
    value: str | None  # None: not knowable at lint time
    raw: str
    inst: Instruction
    kind: str  # "ENV" or "ARG"
    start: int
    end: int
    stage: "Stage"


@record(eq=False)  # identity: stages are used as dict keys and set members
class Stage:
    index: int
    name: str | None
    base: str  # FROM argument as written
    base_resolved: str | None  # after ARG expansion; None when unknowable
    from_inst: Instruction
    base_stage: "Stage | None" = None
    platform: str | None = None
    instructions: list[Instruction] = field(default_factory=list)
    image: dict = field(default_factory=dict)  # trust facts' [[image]] entry, inherited via FROM <stage>
    env: dict[str, EnvSetting] = field(default_factory=dict)  # ENV at the end of the stage (inherited)
    args: dict[str, EnvSetting] = field(default_factory=dict)
    env_settings: list[EnvSetting] = field(default_factory=list)  # ENV/ARG set in this stage, in order
    runs: list[RunStep] = field(default_factory=list)
    file_ops: list[FileOp] = field(default_factory=list)
    users: list[tuple[Instruction, str]] = field(default_factory=list)
    entrypoint: Instruction | None = None
    cmd: Instruction | None = None
    shell: list[str] = field(default_factory=lambda: list(DEFAULT_SHELL))
    steps: list[object] = field(default_factory=list)  # RunStep | FileOp | EnvSetting | ("USER", inst), in order
    memo: dict = field(default_factory=dict, repr=False)  # facts checks derive once per stage (see memoized)
    workdir: str = "/"  # WORKDIR at the end of the stage (a stage built FROM it starts there)

    @property
    def label(self) -> str:
        return self.name or str(self.index)

    @property
    def family(self) -> str | None:
        return self.image.get("family")

    @property
    def facts(self) -> Family:
        return family(self.family)

    @property
    def user(self) -> str | None:
        for stage in self.chain():  # a loop, not recursion: chains can be 1,000 stages long
            if stage.users:
                return stage.users[-1][1]
        return None

    def chain(self) -> list["Stage"]:
        """This stage and the stages it is built FROM, nearest first."""
        cached = self.memo.get("chain")
        if cached is None:
            out = [self]
            seen = {id(self)}  # a set: `stage not in out` made a 1,000-stage chain quadratic
            stage = self.base_stage
            while stage is not None and id(stage) not in seen:
                out.append(stage)
                seen.add(id(stage))
                stage = stage.base_stage
            cached = self.memo["chain"] = out
        return list(cached)

    def commands(self) -> Iterator[tuple[RunStep, Command]]:
        # Checks walk every command many times; flatten once (again if a RUN was added since).
        cached = self.memo.get("commands")
        if cached is None or cached[0] != len(self.runs):
            cached = self.memo["commands"] = (len(self.runs), [(run, cmd) for run in self.runs for cmd in run.commands])
        return iter(cached[1])

    def inherited_commands(self) -> Iterator[tuple["Stage", RunStep, Command]]:
        for stage in reversed(self.chain()):
            for run, cmd in stage.commands():
                yield stage, run, cmd

    def inherited_file_ops(self) -> Iterator[tuple["Stage", FileOp]]:
        for stage in reversed(self.chain()):
            for op in stage.file_ops:
                yield stage, op


@record
class DockerfileModel:
    parsed: ParsedDockerfile
    stages: list[Stage]
    global_args: dict[str, EnvSetting]
    target: Stage | None
    build_args: dict[str, str]
    unknown_instructions: list[Instruction] = field(default_factory=list)
    memo: dict = field(default_factory=dict, repr=False)
    budget_notes: list[tuple[int, str]] = field(default_factory=list)  # (line, message) per limit hit

    @property
    def path(self) -> str:
        return self.parsed.path

    @property
    def shipped(self) -> Stage | None:
        """The stage that becomes the image: --target, else the last one."""
        return self.target

    def shipped_chain(self) -> list[Stage]:
        return self.target.chain() if self.target else []

    def is_shipped(self, stage: Stage) -> bool:
        return stage in self.shipped_chain()

    def position(self, offset: int) -> tuple[int, int]:
        return self.parsed.position(offset)


def memoized(owner, key, compute):
    """A fact derived once per stage or model (the model is immutable once built)."""
    try:
        return owner.memo[key]
    except KeyError:
        value = owner.memo[key] = compute()
        return value


# --- building ---------------------------------------------------------------------------------------

def build_model(parsed: ParsedDockerfile, build_args: dict[str, str] | None = None, target: str | None = None,
                base_images: dict[str, str] | None = None, limits: DockerfileLimits | None = None) -> DockerfileModel:
    """The model of one file, built within the work budget of `limits` (hitting one is a note)."""
    budget = Budget(limits or DEFAULT_LIMITS)
    with spending(budget):
        model = _build_model(parsed, build_args, target, budget, base_images)
    model.budget_notes = sorted(budget.notes.values())
    return model


def _build_model(parsed: ParsedDockerfile, build_args: dict[str, str] | None, target: str | None,
                 budget: Budget, base_images: dict[str, str] | None = None) -> DockerfileModel:
    limits = budget.limits
    build_args = dict(build_args or {})
    escape = parsed.escape
    global_args: dict[str, EnvSetting] = {}
    stages: list[Stage] = []
    unknown: list[Instruction] = []
    stage: Stage | None = None
    workdir = "/"

    def scope_env(stage: Stage) -> dict[str, str | None]:
        env: dict[str, str | None] = {}
        for name, value in stage.image.get("env", {}).items():
            env[name] = value
        for setting in stage.args.values():
            env[setting.name] = setting.value
        for setting in stage.env.values():
            env[setting.name] = setting.value
        return env

    stage_env_owner: Stage | None = None
    stage_vars = VersionedEnv()
    env_now: Mapping[str, str | None] = stage_vars.snapshot()
    heredocs = 0
    for count, inst in enumerate(parsed.instructions):
        kw = inst.keyword
        if count >= limits.max_instructions:
            budget.note("max_instructions", inst.line, f"more than {limits.max_instructions:,} instructions; "
                        f"line {inst.line} and after are not checked")
            break
        heredocs += len(inst.heredocs)
        if heredocs > limits.max_heredocs:
            budget.note("max_heredocs", inst.line, f"more than {limits.max_heredocs:,} heredocs; "
                        f"line {inst.line} and after are not checked")
            break
        budget.where = (inst.line, kw)
        if kw not in _KNOWN:
            unknown.append(inst)
            continue
        if kw == "FROM":
            if len(stages) >= limits.max_stages:
                budget.note("max_stages", inst.line, f"more than {limits.max_stages:,} stages; "
                            f"the stage at line {inst.line} and later ones are not checked")
                break
            stage = _new_stage(inst, len(stages), stages, global_args, escape, base_images)
            stages.append(stage)
            workdir = stage.base_stage.workdir if stage.base_stage else "/"  # FROM <stage> keeps its WORKDIR
            stage.workdir = workdir
            continue
        if stage is None:
            if kw == "ARG":
                for setting in _arg_settings(inst, None, {k: v.value for k, v in global_args.items()}, build_args, escape, global_args):
                    global_args[setting.name] = setting
                continue
            raise ImagelintError(f"{inst.original_keyword} before the first FROM", path=parsed.path, line=inst.line)
        stage.instructions.append(inst)
        # One snapshot per stage, rebuilt only when ARG/ENV change it: RUN steps share it (never mutated).
        if stage_env_owner is not stage:
            # One versioned store per stage: every instruction's view of it is an O(1) snapshot.
            stage_env_owner, stage_vars = stage, VersionedEnv(scope_env(stage))
            env_now = stage_vars.snapshot()
        if kw == "ARG":
            for setting in _arg_settings(inst, stage, env_now, build_args, escape, global_args):
                stage.args[setting.name] = setting
                stage.env_settings.append(setting)
                stage.steps.append(setting)
                if setting.name not in stage.env:  # an ENV of the same name wins over the ARG
                    stage_vars.set(setting.name, setting.value)
            env_now = stage_vars.snapshot()
        elif kw == "ENV":
            for setting in _env_settings(inst, stage, env_now, escape, parsed.path):
                stage.env[setting.name] = setting
                stage.env_settings.append(setting)
                stage.steps.append(setting)
                stage_vars.set(setting.name, setting.value)
            env_now = stage_vars.snapshot()
        elif kw == "RUN":
            run = _run_step(inst, stage, env_now, escape)
            run.workdir = workdir
            stage.runs.append(run)
            stage.steps.append(run)
            for op in file_ops_of_run(run, workdir):
                stage.file_ops.append(op)
                stage.steps.append(op)
        elif kw in ("COPY", "ADD"):
            op = _copy_op(inst, stage, env_now, escape, stages, workdir)
            if op is not None:
                stage.file_ops.append(op)
                stage.steps.append(op)
        elif kw == "USER":
            user = expand(inst.args, env_now, escape).value.strip()
            stage.users.append((inst, user))
            stage.steps.append(("USER", inst))
        elif kw == "WORKDIR":
            value = expand(inst.args, env_now, escape).value.strip() or "/"
            workdir = posixpath.normpath(posixpath.join(workdir, value))
            stage.workdir = workdir
        elif kw == "LABEL":
            _check_name_values(inst, escape, parsed.path)
        elif kw == "SHELL" and inst.json_args:
            stage.shell = list(inst.json_args)
        elif kw == "ENTRYPOINT":
            stage.entrypoint = inst
        elif kw == "CMD":
            stage.cmd = inst

    if not stages:
        raise ImagelintError("no FROM instruction", path=parsed.path)
    target_stage = stages[-1]
    if target:
        found = next((s for s in stages if s.name and s.name.lower() == target.lower()), None)
        if found is None:
            raise ImagelintError(f"target stage {target!r} not found", path=parsed.path)
        target_stage = found
    return DockerfileModel(parsed, stages, global_args, target_stage, build_args, unknown)


_KNOWN = {
    "ADD", "ARG", "CMD", "COPY", "ENTRYPOINT", "ENV", "EXPOSE", "FROM", "HEALTHCHECK", "LABEL",
    "MAINTAINER", "ONBUILD", "RUN", "SHELL", "STOPSIGNAL", "USER", "VOLUME", "WORKDIR",
}


def _new_stage(inst: Instruction, index: int, stages: list[Stage], global_args: dict[str, EnvSetting], escape: str,
               base_images: dict[str, str] | None = None) -> Stage:
    words = [w for w, _, _ in split_words(inst.args, escape)]
    base = words[0] if words else ""
    name = words[2] if len(words) >= 3 and words[1].lower() == "as" else None
    env = {k: v.value for k, v in global_args.items()}
    exp = expand(base, env, escape, undeclared_unknown=False)
    resolved = exp.value if exp.known else None
    stage = Stage(index, name, base, resolved, inst)
    platform = inst.flag("platform")
    stage.platform = platform.value if platform else None
    if resolved:
        base_stage = next((s for s in reversed(stages) if s.name and s.name.lower() == resolved.lower()), None)
        if base_stage is not None:
            stage.base_stage = base_stage
            stage.image = dict(base_stage.image)
            stage.env = dict(base_stage.env)
            stage.shell = list(base_stage.shell)
        else:
            stage.image = classify_image(resolved, base_images)
    return stage


def _expanding(inst: Instruction, what: str) -> None:
    """Name what is being expanded, for the one line a budget note gives."""
    budget = current_budget()
    if budget is not None:
        budget.where = (inst.line, what)


def _arg_settings(inst, stage, env_now, build_args, escape, global_args) -> list[EnvSetting]:
    out = []
    for raw, s, e in split_words(inst.args, escape):
        name, eq, default = raw.partition("=")
        value: str | None
        if name in build_args:
            value = build_args[name]
        elif eq:
            _expanding(inst, f"ARG {name}")
            exp = expand(default, env_now, escape)
            value = exp.value if exp.known else None
        elif stage is not None and name in global_args:
            value = global_args[name].value  # `ARG X` in a stage re-imports the global default
        else:
            value = None
        start, end = inst.args_source_offset(s), inst.args_source_offset(e - 1) + 1
        out.append(EnvSetting(name, value, raw, inst, "ARG", start, end, stage))  # type: ignore[arg-type]
    return out


def _env_settings(inst, stage, env_now, escape, path) -> list[EnvSetting]:
    words = split_words(inst.args, escape)
    out = []
    if not words:
        raise ImagelintError("ENV must have two arguments", path=path, line=inst.line)
    if "=" not in words[0][0]:
        # Legacy `ENV NAME value with spaces`
        name, s, e = words[0]
        rest = inst.args[e:].strip()
        if not rest:
            raise ImagelintError("ENV must have two arguments", path=path, line=inst.line)
        _expanding(inst, f"ENV {name}")
        exp = expand(rest, env_now, escape)  # the legacy form keeps the rest of the line, spaces included
        start = inst.args_source_offset(s)
        end = inst.args_source_offset(len(inst.args) - 1) + 1
        out.append(EnvSetting(name, exp.value if exp.known else None, inst.args[s:], inst, "ENV", start, end, stage))
        return out
    for raw, s, e in words:
        if "=" not in raw:
            raise ImagelintError(f"can't find = in {raw!r}; ENV must be of the form name=value", path=path, line=inst.line)
        name, _, value_raw = raw.partition("=")
        _expanding(inst, f"ENV {name}")
        exp = expand(value_raw, env_now, escape)
        start, end = inst.args_source_offset(s), inst.args_source_offset(e - 1) + 1
        out.append(EnvSetting(name, exp.value if exp.known else None, raw, inst, "ENV", start, end, stage))
    return out


def _check_name_values(inst: Instruction, escape: str, path: str) -> None:
    """LABEL as BuildKit's parseNameVal takes it (found by fuzzing against it): `LABEL x` is an error."""
    words = split_words(inst.args, escape)
    if not words:
        raise ImagelintError("LABEL requires at least one argument", path=path, line=inst.line)
    if "=" not in words[0][0]:
        if len(words) < 2:
            raise ImagelintError("LABEL must have two arguments", path=path, line=inst.line)
        return
    for raw, _, _ in words:
        if "=" not in raw:
            raise ImagelintError(f"can't find = in {raw!r}; LABEL must be of the form name=value",
                                 path=path, line=inst.line)


def _run_step(inst: Instruction, stage: Stage, env: dict[str, str | None], escape: str) -> RunStep:
    shell = stage.shell
    is_posix_shell = posixpath.basename(shell[0]) in ("sh", "bash", "dash", "ash", "zsh") if shell else True
    if inst.json_args is not None:
        argv = inst.json_args
        # ["sh", "-c", "..."] and friends: parse the script; otherwise a single command.
        text = " ".join(_shell_quote(a) for a in argv)
        pieces = [(text, lambda i, s=inst.start: s)]
        if len(argv) >= 3 and posixpath.basename(argv[0]) in ("sh", "bash", "dash", "ash", "zsh") and argv[1] in ("-c", "-ec", "-exc", "-xc", "-ce", "-eux", "-euxc", "-exuc"):
            script = parse_script([(argv[2], lambda i, s=inst.start: s)], env)
        else:
            script = parse_script(pieces, env)
        return RunStep(inst, script, shell, env, stage.user, exec_form=True)
    if not is_posix_shell:
        return RunStep(inst, Script([], {}), shell, env, stage.user)
    body = inst.args
    pieces = [(body, inst.args_mapper())]
    heredocs = inst.heredocs
    budget = current_budget()
    if budget is not None and len(heredocs) > budget.limits.max_heredocs_per_instruction:
        budget.note("max_heredocs_per_instruction", inst.line,
                    f"RUN has more than {budget.limits.max_heredocs_per_instruction:,} heredocs; its commands are not checked")
        return RunStep(inst, Script([], {}, parse_error=True), shell, env, stage.user)
    if heredocs and len(heredocs) >= 1 and _is_bare_heredoc(body):
        # `RUN <<EOF`: the heredoc is the script itself (BuildKit runs it with the shell or its shebang).
        doc = heredocs[0]
        content = doc.content
        first = content.split("\n", 1)[0]
        if first.startswith("#!") and not any(sh in first for sh in ("sh", "bash")):
            script = Script([], {}, inline_code=[(_shebang_language(first), content, doc.start)])
        else:
            script = parse_script([(content, linear(doc.start))], env)
        return RunStep(inst, script, shell, env, stage.user)
    lead = _LEADING_HEREDOCS.match(body) if heredocs else None
    if lead:
        # `RUN <<EOF cat > f`: a redirect before the command name, which tree-sitter-bash cannot
        # parse. Move the heredoc words after the command; offsets still map to their source.
        moved, rest = lead.group(1), lead.group(2)
        rest_at = lead.start(2)
        pieces = [
            (rest + " ", lambda i, inst=inst, a=rest_at: inst.args_source_offset(a + min(i, len(rest) - 1))),
            (moved.strip(), lambda i, inst=inst: inst.args_source_offset(i)),
        ]
    for doc in heredocs:
        pieces.append(("\n", lambda i, d=doc: d.start))
        pieces.append((doc.content, linear(doc.start)))
        pieces.append((doc.name + "\n", lambda i, d=doc: d.end + i))
    script = parse_script(pieces, env)
    return RunStep(inst, script, shell, env, stage.user)


_LEADING_HEREDOCS = re.compile(r"^((?:\d*<<-?\S+\s+)+)(\S.*)$")


def _is_bare_heredoc(body: str) -> bool:
    words = body.split()
    return len(words) == 1 and words[0].lstrip("0123456789").startswith("<<")


def _shebang_language(line: str) -> str:
    for lang in ("python", "node", "perl", "ruby"):
        if lang in line:
            return lang
    return "script"


def _shell_quote(arg: str) -> str:
    if arg and all(c.isalnum() or c in "-_./=:@%+,~" for c in arg):
        return arg
    return "'" + arg.replace("'", "'\\''") + "'"


def _copy_op(inst: Instruction, stage: Stage, env, escape, stages: list[Stage], workdir: str) -> FileOp | None:
    if inst.json_args is not None:
        args = [(a, inst.start, inst.end) for a in inst.json_args]
    else:
        args = [(w.raw, w.start, w.end) for w in inst.words(escape)]
    if len(args) < 1:
        return None
    expanded = [expand(a, env, escape) for a, _, _ in args]
    values = [e.value for e in expanded]
    dest_raw, dstart, dend = args[-1]
    dest = values[-1]
    heredoc_names = {h.name for h in inst.heredocs}
    sources = []
    content = None
    for raw, value in zip([a for a, _, _ in args[:-1]], values[:-1]):
        name = raw.lstrip("0123456789")
        if name.startswith("<<") and inst.heredocs:
            doc = next((h for h in inst.heredocs if h.name == name.lstrip("<-").strip("'\"")), None)
            if doc is not None:
                content = doc.content
                sources.append("<<" + doc.name)
                continue
        sources.append(value)
    is_dir = dest.endswith(("/", "/.")) or dest in (".", "..") or len(sources) > 1
    path = dest if dest.startswith("/") else posixpath.join(workdir, dest)
    path = posixpath.normpath(path) if path not in ("", "/") else "/"
    from_flag = inst.flag("from")
    from_stage = None
    from_image = None
    if from_flag and from_flag.value:
        value = expand(from_flag.value, env, escape).value
        from_stage = next((s for s in stages if s.name and s.name.lower() == value.lower()), None)
        if from_stage is None and value.isdigit() and int(value) < len(stages):
            from_stage = stages[int(value)]
        if from_stage is None:
            from_image = value
    chmod = inst.flag("chmod")
    chown = inst.flag("chown")
    if content is not None and heredoc_names and len(sources) == 1:
        is_dir = dest.endswith("/")
    return FileOp(
        "copy", path, inst, None, content, sources, from_stage, from_image, is_dir,
        chmod.value if chmod else None, chown.value if chown else None, True, dstart, dend,
        expanded[-1].known,
    )


# --- what RUN commands do to files -----------------------------------------------------------------

def _abs(path: str, workdir: str, env_home: str = "/root") -> str:
    if path.startswith("~/"):
        path = env_home + path[1:]
    elif path == "~":
        path = env_home
    if not path.startswith("/"):
        path = posixpath.join(workdir, path)
    return posixpath.normpath(path)


def file_ops_of_run(run: RunStep, workdir: str) -> Iterator[FileOp]:
    from .shell import command_output

    home = "/root" if not run.user or run.user in ("root", "0") else f"/home/{run.user}"
    for cmd in run.commands:
        inst = run.inst
        if cmd.name == "cd":
            # `cd DIR && cp x .`: later relative paths start there (for the rest of this RUN).
            target = next((w for w in cmd.args if not w.value.startswith("-")), None)
            if target is not None and target.known and target.value not in ("-", ""):
                workdir = _abs(target.value, workdir, home)
            continue
        for redirect, target in cmd.output_files():
            path = _home_path(target, home)
            if path is None or path in ("/dev/null", "/dev/stdout", "/dev/stderr") or redirect.fd == 2:
                continue
            content = command_output(cmd)
            kind = "append" if redirect.op in (">>", "&>>") else "write"
            yield FileOp(kind, _abs(path, workdir, home), inst, cmd, content, _cat_sources(cmd, workdir),
                         start=target.start, end=target.end)
        name = cmd.name
        args = [w for w in cmd.args]
        values = [w.value for w in args]
        if name == "tee":
            append = any(v in ("-a", "--append") for v in values)
            for w in args:
                path = _home_path(w, home)
                if not w.value.startswith("-") and path is not None:
                    yield FileOp("append" if append else "write", _abs(path, workdir, home), inst, cmd, cmd.stdin,
                                 start=w.start, end=w.end)
        elif name in ("cp", "mv", "install", "ln"):
            operands = [w for w in args if not w.value.startswith("-")]
            if name == "install" and any(v == "-d" for v in values):
                continue
            # Options that take an argument.
            skip_next = {"-m", "--mode", "-o", "--owner", "-g", "--group", "-t", "-S"}
            cleaned: list = []
            skip = False
            for w in args:
                if skip:
                    skip = False
                    continue
                if w.value in skip_next:
                    skip = True
                    continue
                if w.value.startswith("-"):
                    continue
                cleaned.append(w)
            operands = cleaned
            if len(operands) < 2 or not operands[-1].known:
                continue
            dest = operands[-1]
            srcs = [_abs(w.value, workdir, home) if name != "ln" else w.value for w in operands[:-1]]
            dest_path = _abs(dest.value, workdir, home)
            kind = {"cp": "copy", "install": "copy", "mv": "move", "ln": "link"}[name]
            recursive = any(v.startswith("-") and ("r" in v.lstrip("-") or "R" in v or "a" in v.lstrip("-")) for v in values if not v.startswith("--")) or "--recursive" in values
            yield FileOp(kind, dest_path, inst, cmd, None, srcs, is_dir=dest.value.endswith(("/", "/.")) or dest.value in (".", "..") or len(srcs) > 1,
                         recursive=recursive, start=dest.start, end=dest.end)
        elif name in ("curl", "wget"):
            out_flags = ("-o", "--output") if name == "curl" else ("-O", "--output-document")
            urls = [w.value for w in args if "://" in w.value]
            for i, w in enumerate(args):
                target = None
                if w.value in out_flags and i + 1 < len(args):
                    target = args[i + 1]
                elif any(w.value.startswith(f + "=") for f in out_flags if f.startswith("--")):
                    target = w
                if target is not None and target.known:
                    path = target.value.split("=", 1)[1] if target is w else target.value
                    if path != "-":
                        yield FileOp("download", _abs(path, workdir, home), inst, cmd, None, urls,
                                     start=target.start, end=target.end)
        elif name == "sed" and any(v == "-i" or v.startswith("-i") or v == "--in-place" for v in values):
            exprs = []
            files = []
            skip = False
            for i, w in enumerate(args):
                if skip:
                    skip = False
                    continue
                if w.value in ("-e", "--expression") and i + 1 < len(args):
                    exprs.append(args[i + 1].value)
                    skip = True
                elif w.value.startswith("-"):
                    continue
                elif not exprs:
                    exprs.append(w.value)
                else:
                    files.append(w)
            for f in files:
                if f.known:
                    yield FileOp("edit", _abs(f.value, workdir, home), inst, cmd, "\n".join(exprs),
                                 start=f.start, end=f.end)
        elif name in ("rm", "unlink"):
            for w in args:
                if not w.value.startswith("-") and w.known:
                    yield FileOp("delete", _abs(w.value, workdir, home), inst, cmd, start=w.start, end=w.end,
                                 recursive=any(v.startswith("-") and "r" in v.lower() for v in values))
        elif name in ("chmod", "chown", "chgrp"):
            operands = [w for w in args if not w.value.startswith("-")]
            if len(operands) >= 2:
                spec = operands[0].value
                for w in operands[1:]:
                    if w.known:
                        yield FileOp(name if name != "chgrp" else "chown", _abs(w.value, workdir, home), inst, cmd,
                                     mode=spec if name == "chmod" else None,
                                     owner=spec if name != "chmod" else None,
                                     recursive=any(v in ("-R", "--recursive") for v in values),
                                     start=w.start, end=w.end)


_HOME_WORD = re.compile(r"""^["']?\$(?:HOME\b|\{HOME\})(/[^$`"']*)?["']?$""")


def _home_path(word, home: str) -> str | None:
    """The word's path; `$HOME/...` counts as known: the container's HOME is the user's home."""
    if word.known:
        return word.value
    m = _HOME_WORD.match(word.raw)
    return home + (m.group(1) or "") if m else None


def _cat_sources(cmd: Command, workdir: str) -> list[str]:
    if cmd.name == "cat":
        return [_abs(w.value, workdir) for w in cmd.args if not w.value.startswith("-") and w.known]
    return []
