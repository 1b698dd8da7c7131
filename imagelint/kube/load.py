"""Kubernetes manifests from YAML or JSON text: every node keeps its file and line.

Parsing is `yaml.safe_load`-level (no Python tags; unknown tags are errors) and every way the work
can grow has a budget: the stream's size, the number of documents, and the nodes built (a
"billion laughs" alias bomb stops at the node budget instead of filling memory). A budget hit or a
syntax error is one `ImagelintError` naming the file and line.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..findings import ImagelintError

MAX_STREAM_BYTES = 32 * 1024 * 1024
MAX_DOCUMENTS = 10_000
MAX_ALIAS_NODES = 100_000  # nodes built again through aliases, per stream
MAX_DEPTH = 200
MAX_C_NESTING = 20_000  # nesting indicators up to which libyaml's recursive C composer is safe


class Map(dict):
    """A YAML mapping; `.line` is its first line, `.lines[key]` the line of each key."""

    line = 1
    lines: dict

    def line_of(self, key: str) -> int:
        return self.lines.get(key, self.line)


class Seq(list):
    """A YAML sequence; `.line` its first line, `.lines[i]` the line of each item."""

    line = 1
    lines: list


@dataclass
class Document:
    path: str
    line: int
    body: Map


def _constructor():
    import yaml

    return yaml.constructor.SafeConstructor()


class _Builder:
    def __init__(self, path: str):
        import yaml

        self.yaml = yaml
        self.path = path
        self.seen: set[int] = set()
        self.expanded = 0
        self.scalars = _constructor()

    def fail(self, message: str, node) -> ImagelintError:
        return ImagelintError(message, path=self.path, line=node.start_mark.line + 1)

    def build(self, node, depth: int = 0) -> Any:
        yaml = self.yaml
        if id(node) in self.seen:
            self.expanded += 1
            if self.expanded > MAX_ALIAS_NODES:
                raise self.fail(f"aliases expand to more than {MAX_ALIAS_NODES} YAML nodes (an alias bomb?)", node)
        else:
            self.seen.add(id(node))
        if depth > MAX_DEPTH:
            raise self.fail(f"YAML nested deeper than {MAX_DEPTH} levels (or a recursive alias)", node)
        if isinstance(node, yaml.ScalarNode):
            try:
                return self.scalars.construct_object(node)
            except yaml.YAMLError as exc:
                raise self.fail(f"YAML: {getattr(exc, 'problem', None) or exc}", node) from None
        if isinstance(node, yaml.SequenceNode):
            if node.tag not in ("tag:yaml.org,2002:seq",):
                raise self.fail(f"YAML: unsupported tag {node.tag}", node)
            out = Seq(self.build(item, depth + 1) for item in node.value)
            out.line = node.start_mark.line + 1
            out.lines = [item.start_mark.line + 1 for item in node.value]
            return out
        if isinstance(node, yaml.MappingNode):
            if node.tag not in ("tag:yaml.org,2002:map",):
                raise self.fail(f"YAML: unsupported tag {node.tag}", node)
            try:
                self.scalars.flatten_mapping(node)  # merge keys (<<), as safe_load does
            except yaml.YAMLError as exc:
                raise self.fail(f"YAML: {getattr(exc, 'problem', None) or exc}", node) from None
            out = Map()
            out.line = node.start_mark.line + 1
            out.lines = {}
            for key_node, value_node in node.value:
                key = self.build(key_node, depth + 1)
                if isinstance(key, (dict, list)):
                    raise self.fail("YAML: a mapping key must be a scalar", key_node)
                key = str(key) if not isinstance(key, str) else key
                out[key] = self.build(value_node, depth + 1)
                out.lines[key] = key_node.start_mark.line + 1
            return out
        raise self.fail("YAML: unexpected node", node)  # pragma: no cover


def _loader_for(text: str, path: str):
    """CSafeLoader when the text cannot nest deeper than libyaml's composer takes, else PyYAML's
    own SafeLoader (its RecursionError is a one-line error). libyaml composes recursively in C:
    past about 20,000 levels it overflows the stack (a segfault), and deep input is slow in it
    anyway (30,000 levels: 3 s; observed with PyYAML 6.0 on libyaml 0.2.5). A block node's depth is
    at most its column, a flow node's at most the number of flow openers, so the sum bounds the
    nesting; a JSON document parsed by `json` (whose recursion is bounded) nests less than 1,000."""
    import yaml

    c_loader = getattr(yaml, "CSafeLoader", None)
    if c_loader is None:
        return yaml.SafeLoader
    longest = max((len(line) for line in text.splitlines()), default=0)
    if longest + text.count("[") + text.count("{") <= MAX_C_NESTING:
        return c_loader
    if text.lstrip()[:1] in ("{", "["):
        import json

        try:
            json.loads(text)
            return c_loader
        except RecursionError:
            raise ImagelintError("JSON nested too deeply", path=path) from None
        except ValueError:
            pass  # YAML flow style, not JSON
    return yaml.SafeLoader


def load_documents(text: str, path: str) -> list[Document]:
    """Every non-empty document of a YAML (or JSON) stream, as `Map`s with line numbers."""
    import yaml

    if len(text.encode("utf-8", "surrogatepass")) > MAX_STREAM_BYTES:
        raise ImagelintError(f"larger than {MAX_STREAM_BYTES // (1024 * 1024)} MB", path=path)
    loader_class = _loader_for(text, path)
    builder = _Builder(path)
    documents: list[Document] = []
    loader = loader_class(text)
    try:
        count = 0
        while loader.check_node():
            node = loader.get_node()
            count += 1
            if count > MAX_DOCUMENTS:
                raise ImagelintError(f"more than {MAX_DOCUMENTS} YAML documents", path=path,
                                     line=node.start_mark.line + 1 if node is not None else None)
            if node is None:
                continue
            builder.seen.clear()  # node ids are only unique while one document's graph is alive
            body = builder.build(node)
            if body is None:
                continue
            if isinstance(body, Map):  # a list or a scalar is not a Kubernetes object: not ours to judge
                documents.append(Document(path, body.line, body))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "invalid YAML"
        raise ImagelintError(f"YAML: {problem}", path=path, line=mark.line + 1 if mark else None) from None
    except yaml.YAMLError as exc:
        raise ImagelintError(f"YAML: {exc}", path=path) from None
    except RecursionError:
        raise ImagelintError(f"YAML nested deeper than {MAX_DEPTH} levels", path=path) from None
    except (UnboundLocalError, AttributeError, TypeError) as exc:  # libyaml's composer on some deep inputs
        raise ImagelintError(f"YAML cannot be parsed ({exc.__class__.__name__})", path=path) from None
    finally:
        loader.dispose()
    return documents


def is_manifest(body: Any) -> bool:
    return isinstance(body, dict) and isinstance(body.get("apiVersion"), str) and isinstance(body.get("kind"), str)


def expand_lists(documents: list[Document]) -> list[Document]:
    """`kind: List` (and `*List` from `kubectl get -o yaml`) become their items."""
    out: list[Document] = []
    for doc in documents:
        body = doc.body
        kind = body.get("kind")
        if isinstance(kind, str) and kind.endswith("List") and isinstance(body.get("items"), list):
            for item in body["items"]:
                if isinstance(item, Map):
                    out.append(Document(doc.path, item.line, item))
            continue
        out.append(doc)
    return out
