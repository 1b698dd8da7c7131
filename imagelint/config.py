"""Configuration: `.imagelint.toml` or `[tool.imagelint]` in pyproject.toml, found by walking up.

Keys (all optional):
  select = ["IL1", "IL201"]        rule ids or prefixes to enable (default: all)
  ignore = ["IL113"]               rule ids or prefixes to disable
  fail-level = "warning"           error | warning | info
  cert-expiry-days = 30            warn when a certificate expires within this many days
  exclude = ["vendor/**"]          path globs skipped when discovering Dockerfiles
  [severity]                       per-rule severity overrides, e.g. IL110 = "error"
  [per-path-ignores]               glob -> rule ids, e.g. "test/**" = ["IL110"]
  [build-args]                     default --build-arg values
  [base-images]                    FROM patterns -> OS family, for private base images the trust
                                   facts cannot know, e.g. "registry.corp/*" = "debian"
                                   (a glob over the repository, with or without the tag)
  [limits]                         work budgets per Dockerfile, e.g. max-word-chars = 1048576
                                   (see DockerfileLimits; README "Limits")
"""
from __future__ import annotations

import fnmatch
import os
import sys
from pathlib import Path
from typing import Callable

from .findings import ImagelintError, Severity
from .records import field, fields, record


def _toml():
    """tomllib, imported when a configuration file is read (most runs have none: ~5 ms saved)."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    return tomllib

_KEYS = {"select", "ignore", "fail-level", "cert-expiry-days", "exclude", "severity", "per-path-ignores", "build-args",
         "extend-ignore", "base-images", "limits"}

KIB = 1024
MIB = 1024 * KIB


@record(frozen=True)
class DockerfileLimits:
    """Work budgets for one Dockerfile (`[tool.imagelint.limits]`); hitting one is one line, never a hang."""

    # Characters one expanded word (an ARG/ENV value, a shell word) may reach.
    max_word_chars: int = 1 * MIB
    # Characters all variable expansions of one file may produce together.
    max_expansion_chars: int = 16 * MIB
    # Stages (FROM instructions) modelled per file; later stages are not checked.
    max_stages: int = 1_000
    # Instructions modelled per file; later ones are not checked.
    max_instructions: int = 200_000
    # Heredocs per file, and per instruction (tree-sitter-bash parses many heredocs of one command
    # in quadratic time: 2,000 take 0.5 s, 10,000 over 10 s).
    max_heredocs: int = 10_000
    max_heredocs_per_instruction: int = 500
    # Shell syntax nodes built per RUN instruction (commands, words, redirects).
    max_shell_nodes: int = 200_000
    # Findings reported per file (more are counted, not listed).
    max_findings: int = 10_000

    @classmethod
    def names(cls) -> list[str]:
        return [f.name for f in fields(cls)]

    @classmethod
    def from_table(cls, table: dict) -> "DockerfileLimits":
        """From a TOML table with dashed keys (`max-word-chars = 1048576`)."""
        known = {name.replace("_", "-"): name for name in cls.names()}
        values = {}
        for key, value in table.items():
            if key not in known:
                raise ValueError(f"unknown limit {key!r} (known: {', '.join(sorted(known))})")
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"limit {key} must be a positive integer")
            values[known[key]] = value
        return cls(**values)


DEFAULT_LIMITS = DockerfileLimits()


@record
class Config:
    select: list[str] = field(default_factory=list)
    ignore: list[str] = field(default_factory=list)
    fail_level: Severity | None = None
    cert_expiry_days: int = 30
    exclude: list[str] = field(default_factory=list)
    severity: dict[str, Severity] = field(default_factory=dict)
    per_path_ignores: dict[str, list[str]] = field(default_factory=dict)
    build_args: dict[str, str] = field(default_factory=dict)
    base_images: dict[str, str] = field(default_factory=dict)  # FROM glob -> family name (checked by the linter)
    limits: DockerfileLimits = DEFAULT_LIMITS
    source: Path | None = None

    def enabled(self, rule: str, path: str | None = None, select: list[str] | None = None, ignore: list[str] | None = None) -> bool:
        sel = select if select else self.select
        if sel and not any(rule.startswith(p) for p in sel):
            return False
        if any(rule.startswith(p) for p in (ignore or []) + self.ignore):
            return False
        if path is not None and self.per_path_ignores:
            rel = self._relative(path)
            for pattern, rules in self.per_path_ignores.items():
                if fnmatch.fnmatch(rel, pattern) and any(rule.startswith(p) for p in rules):
                    return False
        return True

    def selection(self, path: str | None = None, select: list[str] | None = None,
                  ignore: list[str] | None = None) -> Callable[[str], bool]:
        """`enabled` for one file as a function of the rule alone. Without per-path ignores the
        answer does not depend on the file, so a run over many files matches each rule once."""
        if path is not None and self.per_path_ignores:
            return lambda rule: self.enabled(rule, path, select, ignore)
        key = (tuple(select or ()), tuple(ignore or ()))
        memo = _selections.get(id(self))
        if memo is None or memo[0] is not self:
            if len(_selections) >= 64:
                _selections.clear()  # configurations made per call (stdin, tests) must not pile up
            memo = _selections[id(self)] = (self, {})
        answers = memo[1].get(key)
        if answers is None:
            answers = memo[1][key] = {}

        def enabled(rule: str) -> bool:
            answer = answers.get(rule)
            if answer is None:
                answer = answers[rule] = self.enabled(rule, None, select, ignore)
            return answer

        return enabled

    def _relative(self, path: str) -> str:
        if self.source is None:
            return path
        try:
            return str(Path(path).resolve().relative_to(self.source.parent.resolve()))
        except ValueError:
            return path


def _from_table(table: dict, source: Path) -> Config:
    unknown = set(table) - _KEYS
    if unknown:
        raise ImagelintError(f"unknown configuration key {sorted(unknown)[0]!r}", path=str(source))
    try:
        cfg = Config(
            select=_strings(table, "select"),
            ignore=_strings(table, "ignore") + _strings(table, "extend-ignore"),
            fail_level=Severity.parse(table["fail-level"]) if "fail-level" in table else None,
            cert_expiry_days=int(table.get("cert-expiry-days", 30)),
            exclude=_strings(table, "exclude"),
            severity={k: Severity.parse(v) for k, v in _table(table, "severity").items()},
            per_path_ignores={k: _strings({k: v}, f"per-path-ignores.{k}", k)
                              for k, v in _table(table, "per-path-ignores").items()},
            build_args={k: str(v) for k, v in _table(table, "build-args").items()},
            base_images=_base_images(table.get("base-images", {})),
            limits=DockerfileLimits.from_table(_table(table, "limits")),
            source=source,
        )
    except (ValueError, TypeError) as exc:
        raise ImagelintError(f"invalid configuration: {exc}", path=str(source)) from None
    return cfg


def _strings(table: dict, name: str, key: str | None = None) -> list[str]:
    """An array of strings (a bare string would be split into characters)."""
    value = table.get(key or name, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise TypeError(f"{name} must be an array of strings")
    return list(value)


def _table(table: dict, name: str) -> dict:
    value = table.get(name, {})
    if not isinstance(value, dict):
        raise TypeError(f"[{name}] must be a table")
    return value


def _base_images(table) -> dict[str, str]:
    if not isinstance(table, dict):
        raise TypeError("[base-images] must be a table of pattern = \"family\"")
    out = {}
    for pattern, family in table.items():
        if not isinstance(family, str) or not family.strip():
            raise TypeError(f"[base-images] {pattern!r}: the value must be a family name such as \"debian\"")
        out[pattern.strip().lower()] = family.strip().lower()
    return out


MAX_CONFIG_BYTES = 1024 * 1024


def load_config_file(path: Path) -> Config:
    import os
    import stat

    tomllib = _toml()
    try:
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode):  # a FIFO would block the read forever
            raise ImagelintError("cannot read configuration: not a regular file", path=str(path))
        if st.st_size > MAX_CONFIG_BYTES:
            raise ImagelintError(f"configuration larger than {MAX_CONFIG_BYTES // 1024} KiB", path=str(path))
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except OSError as exc:
        raise ImagelintError(f"cannot read configuration: {exc.strerror}", path=str(path)) from None
    except tomllib.TOMLDecodeError as exc:
        raise ImagelintError(f"invalid TOML: {exc}", path=str(path)) from None
    if path.name == "pyproject.toml":
        data = data.get("tool", {}).get("imagelint", {})
    return _from_table(data, path)


_cache: dict[Path, Config] = {}
_selections: dict[int, tuple[Config, dict]] = {}  # id -> (the config, kept alive so the id stays its own; answers)
_real_dirs: dict[str, str] = {}


def _real_directory(path: str) -> str:
    """The resolved directory a path is in (the path itself when it is one), as Path.resolve gives it.
    Many files share parent directories: a parent resolved once costs one lstat per new file."""
    absolute = os.path.abspath(path)
    if not os.path.isdir(absolute):
        absolute = os.path.dirname(absolute)
    if ".." in path.split(os.sep):  # abspath folds "x/.." before links are resolved: leave it to realpath
        return os.path.realpath(absolute)
    return _real(absolute)


def _real(directory: str) -> str:
    known = _real_dirs.get(directory)
    if known is not None:
        return known
    parent, name = os.path.split(directory)
    if not name or parent == directory:
        real = os.path.realpath(directory)
    elif os.path.islink(directory):
        real = os.path.realpath(directory)
    else:
        real = os.path.join(_real(parent), name)
    if len(_real_dirs) < 100_000:
        _real_dirs[directory] = real
    return real


def find_config(start: Path) -> Config:
    """The nearest .imagelint.toml or pyproject.toml with [tool.imagelint], walking up from start."""
    directory = Path(_real_directory(os.fspath(start)))
    visited = []
    for candidate_dir in (directory, *directory.parents):
        if candidate_dir in _cache:
            cfg = _cache[candidate_dir]
            break
        visited.append(candidate_dir)
        dot = candidate_dir / ".imagelint.toml"
        if dot.is_file():
            cfg = load_config_file(dot)
            break
        pyproject = candidate_dir / "pyproject.toml"
        if pyproject.is_file():
            try:
                with open(pyproject, "rb") as fh:
                    raw = fh.read()
                # Without the word no table can be [tool.imagelint]: most pyprojects skip the parse.
                if b"imagelint" in raw:
                    tomllib = _toml()
                    has = "imagelint" in tomllib.loads(raw.decode("utf-8")).get("tool", {})
                else:
                    has = False
            except (OSError, UnicodeDecodeError, _toml().TOMLDecodeError):
                has = False
            if has:
                cfg = load_config_file(pyproject)
                break
    else:
        cfg = Config()
    for d in visited:
        _cache[d] = cfg
    return cfg
