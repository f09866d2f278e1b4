"""YAML files loaded into plain Python values that still know which line each value came from.

Definition files (sandbox IVRs, call scripts) are written by hand, so every complaint about
one must point at a line. PyYAML's constructed values forget their position, so this loader
walks the composed node tree itself and records, for every path of mapping keys and list
indices, the line of the key and of the value.
"""

from __future__ import annotations

import difflib
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn, cast

import yaml

from shopper.durations import parse_duration
from shopper.errors import ShopperError

PathPart = Hashable
"""One step into a document: a mapping key (as loaded, e.g. str or int) or a list index."""


MAX_FILE_BYTES = 1 << 20
"""Largest definition file read (1 MiB). Call scripts and IVRs are a few kilobytes; a larger
file is a mistake (a recording or a log given by error) or an attack, and is refused before
it is read."""
MAX_VALUES = 100_000
"""Most values a document may expand to. Aliases let a few lines stand for billions of values
(nine levels of nine aliases each); counting values as they are walked stops such a file in
milliseconds, where expanding it grew by 100 MB a second."""
MAX_DEPTH = 64
"""Deepest nesting of mappings and lists: ten times what any script or IVR needs, and far
below where Python's recursion would end the walk with a traceback."""

MAX_SPOKEN_CHARS = 5000
"""Longest `say:` text: about five minutes of speech, longer than any real prompt."""


class YamlFileError(ShopperError):
    """The file is unreadable or not valid YAML; the message is `FILE[:LINE]: problem (fix)`."""


@dataclass(frozen=True, slots=True)
class YamlFile:
    path: Path
    data: object
    """The document as plain dicts, lists, str, int, float, bool and None."""
    _value_lines: dict[tuple[PathPart, ...], int] = field(repr=False)
    _key_lines: dict[tuple[PathPart, ...], int] = field(repr=False)

    def line(self, *path: PathPart) -> int:
        """1-based line of the value at `path`, or of its nearest present ancestor.

        Falling back to the ancestor is what an error about a *missing* key needs: it points
        at the mapping that should have contained it.
        """
        for depth in range(len(path), -1, -1):
            found = self._value_lines.get(tuple(path[:depth]))
            if found is not None:
                return found
        return 1

    def key_line(self, *path: PathPart) -> int:
        """1-based line of the mapping key that ends `path` (else as `line`)."""
        return self._key_lines.get(tuple(path)) or self.line(*path)

    def where(self, *path: PathPart, key: bool = False) -> str:
        """`FILE:LINE` of the value (or with `key=True` the key) at `path`, for messages."""
        number = self.key_line(*path) if key else self.line(*path)
        return f"{self.path}:{number}"


def load_yaml(path: Path) -> YamlFile:
    """Read one YAML document safely (no arbitrary object construction)."""
    text = _read_text(path)
    loader = yaml.SafeLoader(text)
    walker = _Walker(path, loader)
    try:
        root = loader.get_single_node()
        data = walker.value(root, ()) if root is not None else None
    except yaml.MarkedYAMLError as error:
        raise YamlFileError(_syntax_message(path, error)) from None
    except yaml.YAMLError as error:
        raise YamlFileError(f"{path}: YAML error: {_one_line(str(error))}") from None
    except RecursionError:
        raise YamlFileError(
            f"{path}: nested too deeply to read (at most {MAX_DEPTH} levels; flatten it)"
        ) from None
    finally:
        loader.dispose()
    return YamlFile(path, data, walker.value_lines, walker.key_lines)


def _read_text(path: Path) -> str:
    """The file's text, refusing what is no definition file: a folder, a device or pipe
    (`/dev/zero` never ends), a file over MAX_FILE_BYTES, text that is not UTF-8."""
    try:
        if path.is_dir():
            raise YamlFileError(f"{path}: is a folder, not a file (name a .yaml file in it)")
        if path.exists() and not path.is_file():
            raise YamlFileError(f"{path}: is not a regular file (name a .yaml file)")
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise YamlFileError(
                f"{path}: {size} bytes is too large for a definition file (at most "
                f"{MAX_FILE_BYTES} bytes; check that this is the right file)"
            )
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise YamlFileError(f"{path}: file not found (check the path)") from None
    except UnicodeDecodeError as error:
        raise YamlFileError(f"{path}: not UTF-8 text ({error.reason}; save it as UTF-8)") from None
    except OSError as error:
        raise YamlFileError(f"{path}: cannot read: {error.strerror}") from None


class _Walker:
    """Turns composed nodes into plain values, noting lines and refusing duplicate keys."""

    def __init__(self, path: Path, loader: yaml.SafeLoader) -> None:
        self.path = path
        self.loader = loader
        self.value_lines: dict[tuple[PathPart, ...], int] = {}
        self.key_lines: dict[tuple[PathPart, ...], int] = {}
        self.enclosing: set[int] = set()
        """ids of the collection nodes being walked: an alias to one of them is a cycle."""
        self.merged_keys: dict[int, set[int]] = {}
        """Per mapping node: ids of the key nodes a `<<` merge brought in (overridable)."""
        self.walked = 0

    def value(self, node: yaml.Node, at: tuple[PathPart, ...]) -> object:
        self.check_limits(node, at)
        self.value_lines.setdefault(at, node.start_mark.line + 1)
        if isinstance(node, yaml.CollectionNode):
            if id(node) in self.enclosing:
                raise YamlFileError(
                    f"{self.path}:{node.start_mark.line + 1}: an alias refers to the mapping or "
                    "list that contains it (remove the cycle)"
                )
            self.enclosing.add(id(node))
            try:
                return self.collection(node, at)
            finally:
                self.enclosing.discard(id(node))
        return self.loader.construct_object(node, deep=True)

    def check_limits(self, node: yaml.Node, at: tuple[PathPart, ...]) -> None:
        self.walked += 1
        line = node.start_mark.line + 1
        if self.walked > MAX_VALUES:
            raise YamlFileError(
                f"{self.path}:{line}: the document expands to more than {MAX_VALUES} values "
                "(aliases repeating aliases?); write it out plainly"
            )
        if len(at) > MAX_DEPTH:
            raise YamlFileError(
                f"{self.path}:{line}: nested more than {MAX_DEPTH} levels deep; flatten it"
            )

    def collection(self, node: yaml.CollectionNode, at: tuple[PathPart, ...]) -> object:
        if isinstance(node, yaml.MappingNode):
            merged = self.flatten(node)
            result: dict[object, object] = {}
            overridable: set[object] = set()
            for key_node, value_node in node.value:
                key = self.loader.construct_object(key_node, deep=True)
                if not isinstance(key, Hashable):
                    raise YamlFileError(
                        f"{self.path}:{key_node.start_mark.line + 1}: a mapping key must be a "
                        "plain value (write it as text)"
                    )
                if key in result and key not in overridable:
                    raise YamlFileError(
                        f"{self.path}:{key_node.start_mark.line + 1}: duplicate key {key!r} "
                        f"(also on line {self.key_lines[(*at, key)]}; keep only one)"
                    )
                if id(key_node) in merged:
                    overridable.add(key)
                else:
                    overridable.discard(key)
                self.key_lines[(*at, key)] = key_node.start_mark.line + 1
                result[key] = self.value(value_node, (*at, key))
            return result
        return [self.value(item, (*at, index)) for index, item in enumerate(node.value)]

    def flatten(self, node: yaml.MappingNode) -> set[int]:
        """Resolve `<<` merge keys once per node (PyYAML does it in place), noting merged keys."""
        if id(node) not in self.merged_keys:
            own = {id(key_node) for key_node, _ in node.value}
            self.loader.flatten_mapping(node)
            self.merged_keys[id(node)] = {
                id(key_node) for key_node, _ in node.value if id(key_node) not in own
            }
        return self.merged_keys[id(node)]


def _syntax_message(path: Path, error: yaml.MarkedYAMLError) -> str:
    mark = error.problem_mark or error.context_mark
    line = f":{mark.line + 1}" if mark is not None else ""
    problem = _one_line(" ".join(part for part in (error.context, error.problem) if part))
    fix = "indent with spaces, not tabs" if "'\\t'" in problem else "check indentation and quoting"
    return f"{path}{line}: YAML syntax error: {problem} ({fix})"


def _one_line(text: str) -> str:
    return " ".join(text.split())


Where = tuple[PathPart, ...]
"""The path of a value inside a document, for `YamlFile.where`."""


def closest(word: object, choices: Iterable[str]) -> str | None:
    """The valid name a misspelt one was probably meant to be."""
    found = difflib.get_close_matches(str(word), list(choices), n=1, cutoff=0.6)
    return found[0] if found else None


def key_names(items: Iterable[str]) -> str:
    return ", ".join(f"{item}:" for item in items)


class YamlChecker:
    """Reads values out of a hand-written YAML file while checking their shape.

    Every complaint is one `FILE:LINE: problem (fix)` line raised as `error`; subclasses
    (the sandbox loader, the call-script loader) add the checks of their own format.
    """

    error: type[ShopperError] = YamlFileError
    document_label = "the file"
    examples: Mapping[str, str] = {}
    """A value's name -> an example of its shape, quoted when it has the wrong shape."""
    top_hint: str = ""
    """What a file must start with, said when the whole document is not a mapping."""

    def __init__(self, document: YamlFile) -> None:
        self.document = document

    def fail(self, at: Where, message: str, *, key: bool = False) -> NoReturn:
        raise self.error(f"{self.document.where(*at, key=key)}: {message}")

    def mapping(
        self,
        value: object,
        at: Where,
        allowed: Sequence[str],
        required: Sequence[str] = (),
        *,
        label: str | None = None,
        example: str | None = None,
    ) -> dict[str, object]:
        """A mapping with only `allowed` keys and all `required` ones; `example` names the
        entry of `examples` to quote (default: the value's own name)."""
        label = label or (str(at[-1]) if at else self.document_label)
        container = f"in {label}" if at else "at the top level"
        if not isinstance(value, dict):
            shape = self.examples.get(example or (str(at[-1]) if at else ""), "")
            hint = f" like {shape}" if shape else ("" if at else self.top_hint)
            self.fail(at, f"{label} must be a mapping{hint}")
        for key in value:
            if key not in allowed:
                suggestion = closest(key, allowed)
                fix = (
                    f"did you mean {suggestion}:?" if suggestion else f"valid: {key_names(allowed)}"
                )
                self.fail((*at, key), f"unknown key {key!r} {container} ({fix})", key=True)
        for key in required:
            if key not in value:
                self.fail(at, f"{label} is missing {key}: (add it)", key=bool(at))
        return cast(dict[str, object], value)

    def text(self, value: object, at: Where) -> str:
        if not isinstance(value, str) or not value.strip():
            self.fail(at, f"{at[-1]} must be non-empty text, not {value!r} (quote it)")
        return value

    def spoken(self, value: object, at: Where) -> str:
        """Text to be spoken (`say:`), at most MAX_SPOKEN_CHARS: rendering a longer one would
        take minutes of text-to-speech before anything is checked."""
        text = self.text(value, at)
        if len(text) > MAX_SPOKEN_CHARS:
            self.fail(
                at,
                f"{at[-1]} has {len(text)} characters; at most {MAX_SPOKEN_CHARS} (about five "
                "minutes of speech): split it or use a recording (play:)",
            )
        return text

    def flag(self, value: object, at: Where) -> bool:
        if not isinstance(value, bool):
            self.fail(at, f"{at[-1]} must be true or false, not {value!r}")
        return value

    def duration(self, value: object, at: Where, *, positive: bool = False) -> float:
        try:
            seconds = parse_duration(cast(str | int | float, value))
        except ValueError as error:
            self.fail(at, f"{at[-1]}: {error}")
        if positive and seconds <= 0:
            self.fail(at, f"{at[-1]} must be longer than 0s, not {value!r}")
        return seconds
