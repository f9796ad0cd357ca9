"""Reading YAML that anyone may have written: safe tags only, in bounded time, memory and depth.

PyYAML's safe loader constructs only plain data, but it trusts the *shape* of its input: a
billion-laughs alias bomb expands to 10^10 values, a few thousand nested `[` overflow the stack
(PyYAML's composer recurses: RecursionError; libyaml's recurses in C: a segfault at depth
100,000), and a non-string key or a 4,301-digit integer raises TypeError or ValueError instead
of a YAML error. So a text is read in three steps, each refusing with a `YamlProblem` (a message
and a line):

1. size: at most `MAX_FILE_BYTES` of UTF-8, before anything is parsed;
2. `compose`: the node graph, built from the parser's events in a loop (the parsers are state
   machines and do not recurse), refusing nesting deeper than `MAX_DEPTH` and more than
   `MAX_NODES` values written out as soon as they are met, and counting what the document
   expands to, each alias counted as the value it names: more than `MAX_VALUES` values, an
   expanded depth over `MAX_DEPTH`, or an alias inside the value it names (a loop) are refused
   before anything is constructed;
3. construct, with the case-file rules: duplicate keys are errors, keys must be plain scalars,
   `1e-3` is a float (YAML 1.2), merge keys (`<<`) are not read, only safe tags.

The C loader (libyaml) is used when PyYAML has it; the pure-Python one is the fallback and
follows the same rules (`tests/test_hostile_casefiles.py` checks both).
"""

from __future__ import annotations

import gc
import re
from collections.abc import Hashable
from typing import Any

import yaml

from harness.limits import MAX_DEPTH, MAX_FILE_BYTES, MAX_NODES, MAX_VALUES, format_bytes

MERGE_TAG = "tag:yaml.org,2002:merge"
INT_TAG, FLOAT_TAG = "tag:yaml.org,2002:int", "tag:yaml.org,2002:float"
_FLOAT_1_2 = re.compile(r"^[-+]?(?:[0-9][0-9_]*)?(?:\.[0-9_]*)?[eE][-+]?[0-9]+$")
# Plain decimal numbers, the bulk of a case file's arrays: their tag and value are known without
# trying every implicit resolver and constructor (which the slow paths would give the same).
_DECIMAL_INT = re.compile(r"[-+]?(?:0|[1-9][0-9]*)\Z")
_DECIMAL_FLOAT = re.compile(r"[-+]?[0-9]+(?:\.[0-9]*)?(?:[eE][-+]?[0-9]+)?\Z")


_NUMBER_START = frozenset("-+0123456789")


class YamlProblem(Exception):
    """A text that is not read; `line` (1-based) where the reader stopped, when known."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.message, self.line = message, line


class _CaseFileRules:
    """Mapping construction for case files: keys are plain scalars, none twice, no merge keys.
    Plain decimal numbers take a fast path (resolve and construct), five times faster."""

    def resolve(self, kind: type, value: str, implicit: tuple[bool, bool]) -> str:
        if kind is yaml.ScalarNode and implicit[0] and value[:1] in _NUMBER_START:
            if _DECIMAL_INT.match(value):
                return INT_TAG
            if _DECIMAL_FLOAT.match(value) and ("." in value or "e" in value or "E" in value):
                return FLOAT_TAG
        return super().resolve(kind, value, implicit)  # type: ignore[misc]

    def construct_sequence(self, node: yaml.SequenceNode, deep: bool = False) -> list[Any]:
        if not isinstance(node, yaml.SequenceNode):
            return super().construct_sequence(node, deep=deep)  # type: ignore[misc]
        items = []
        for child in node.value:
            if type(child) is yaml.ScalarNode:
                if child.tag == INT_TAG and _DECIMAL_INT.match(child.value):
                    items.append(int(child.value))
                    continue
                if child.tag == FLOAT_TAG and _DECIMAL_FLOAT.match(child.value):
                    items.append(float(child.value))
                    continue
            items.append(self.construct_object(child, deep=deep))  # type: ignore[attr-defined]
        return items

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise yaml.constructor.ConstructorError(
                    None, None, "a mapping key is a list or mapping; keys must be strings (names such as `stride`)",
                    key_node.start_mark)
            if key_node.tag == MERGE_TAG:
                raise yaml.constructor.ConstructorError(
                    None, None, "merge keys (<<) are not read; put shared fields under `defaults:`",
                    key_node.start_mark)
            key = self.construct_object(key_node, deep=deep)  # type: ignore[attr-defined]
            if not isinstance(key, Hashable):
                raise yaml.constructor.ConstructorError(
                    None, None, "a mapping key is not a plain value; keys must be strings", key_node.start_mark)
            if key in seen:
                raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)  # type: ignore[misc]


class PyLoader(_CaseFileRules, yaml.SafeLoader):
    """The pure-Python safe loader with the case-file rules."""


_C_BASE = getattr(yaml, "CSafeLoader", None)
CLoader: type | None = None
if _C_BASE is not None:
    class CLoader(_CaseFileRules, _C_BASE):  # type: ignore[no-redef, valid-type, misc]
        """libyaml's safe loader with the case-file rules: the same results, several times faster."""

for _loader in (PyLoader, CLoader):
    if _loader is not None:
        _loader.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT_1_2, list("-+0123456789."))
DEFAULT_LOADER: type = CLoader or PyLoader


TOO_DEEP = f"nests deeper than {MAX_DEPTH} levels (a case needs about 8); flatten it"


def load(text: str, *, loader: type | None = None) -> Any:
    """The data of one YAML document, or `YamlProblem`. `loader`: `PyLoader`, `CLoader` (default
    the C one when available)."""
    loader = loader or DEFAULT_LOADER
    if len(text) > MAX_FILE_BYTES:
        raise YamlProblem(too_large(len(text)))
    try:
        size = len(text.encode("utf-8"))
    except UnicodeEncodeError as error:
        raise YamlProblem(f"is not valid UTF-8 text (character {error.start}); save it as UTF-8") from None
    if size > MAX_FILE_BYTES:
        raise YamlProblem(too_large(size))
    reader = loader(text)
    collecting = gc.isenabled()
    gc.disable()  # millions of small nodes: the cycle collector would rescan them all again and again
    try:
        node = compose(reader)
        return None if node is None else reader.construct_document(node)
    except yaml.constructor.ConstructorError as error:
        raise YamlProblem(f"cannot read this YAML: {error_problem(error)}{_tag_hint(error)}",
                          error_line(error)) from None
    except yaml.YAMLError as error:
        if "maximum nesting depth" in error_problem(error):  # PyYAML >= 6.0.4's C scanner stops at ~1000 levels itself
            raise YamlProblem(TOO_DEEP, error_line(error)) from None
        raise YamlProblem(f"YAML syntax error: {error_problem(error)}", error_line(error)) from None
    except (ValueError, TypeError, OverflowError, ArithmeticError) as error:
        # Safe constructors raise these for tagged or oversized scalars (`!!int 0x`, a
        # 5,000-digit number, `!!timestamp 2001-13-01`).
        raise YamlProblem(f"cannot read a value: {_value_problem(error)}") from None
    finally:
        reader.dispose()
        if collecting:
            gc.enable()


def too_large(size: int) -> str:
    return (f"is {format_bytes(size)}, over the {format_bytes(MAX_FILE_BYTES)} limit for a case file; split it, "
            "or draw large arrays ({shape, seed}) instead of writing them out")


class _Open:
    """A collection being composed, with what it expands to so far."""

    __slots__ = ("anchor", "depth", "items", "key", "node", "sequence", "values")

    def __init__(self, node: yaml.Node, anchor: str | None, sequence: bool) -> None:
        self.node, self.items, self.anchor, self.sequence = node, node.value, anchor, sequence
        self.values, self.depth, self.key = 1, 1, None

    def add(self, node: yaml.Node) -> None:
        if self.sequence:
            self.items.append(node)
        elif self.key is None:
            self.key = node
        else:
            self.items.append((self.key, node))
            self.key = None


def compose(reader: Any) -> yaml.Node | None:
    """The node graph of the reader's single document, composed from parser events in a loop
    (PyYAML's composers recurse; libyaml's overflows the C stack on deep input).

    While composing it counts what the document expands to, an alias counting as the value it
    names (`anchors` keeps each anchor's node, count and depth): more than `MAX_NODES` nodes or
    `MAX_VALUES` expanded values, a depth (aliases included) over `MAX_DEPTH`, or an alias inside
    the value it names are refused, so nothing later (construction, validation) can blow up.
    Tags resolve as in PyYAML's composer (plain decimal integers, most of a case file, without
    trying every resolver).
    """
    anchors: dict[str, tuple[yaml.Node, int, int] | None] = {}  # None: still open
    stack: list[_Open] = []
    root: yaml.Node | None = None
    total = nodes = documents = 0  # values expanded, values written out, documents
    get_event, resolve = reader.get_event, reader.resolve
    scalar_event, scalar_node = yaml.ScalarEvent, yaml.ScalarNode
    path_resolvers = bool(getattr(reader, "yaml_path_resolvers", None))
    node_kind_tags = {True: reader.DEFAULT_SEQUENCE_TAG, False: reader.DEFAULT_MAPPING_TAG}
    while True:
        event = get_event()
        kind = type(event)
        if kind is scalar_event:  # the common case, kept short
            tag, value = event.tag, event.value
            if tag is None or tag == "!":
                if event.implicit[0] and value[:1] in _NUMBER_START and _DECIMAL_INT.match(value):
                    tag = INT_TAG
                else:
                    tag = resolve(scalar_node, value, event.implicit)
            # No end marks (here or on collections): nothing reads them, and a million Mark
            # objects are a hundred MB.
            node: yaml.Node = scalar_node(tag, value, event.start_mark, None, event.style)
            if event.anchor is not None:
                _anchor(anchors, event, (node, 1, 0))
            total += 1
            nodes += 1
            if nodes > MAX_NODES:
                _too_many(event, written=True)
            if stack:
                stack[-1].values += 1
                stack[-1].add(node)
            else:
                root = node
            continue
        if kind is yaml.SequenceStartEvent or kind is yaml.MappingStartEvent:
            if len(stack) >= MAX_DEPTH:
                raise YamlProblem(TOO_DEEP, _mark_line(event))
            sequence = kind is yaml.SequenceStartEvent
            node_kind = yaml.SequenceNode if sequence else yaml.MappingNode
            tag = event.tag
            if tag is None or tag == "!":
                # What `resolve` answers for a collection when no path resolvers are set (none are).
                tag = resolve(node_kind, None, event.implicit) if path_resolvers else node_kind_tags[sequence]
            if event.anchor is not None:
                _anchor(anchors, event, None)
            stack.append(_Open(node_kind(tag, [], event.start_mark, None, flow_style=event.flow_style),
                               event.anchor, sequence))
            total += 1
            nodes += 1
            if nodes > MAX_NODES:
                _too_many(event, written=True)
            continue
        if kind is yaml.SequenceEndEvent or kind is yaml.MappingEndEvent:
            done = stack.pop()
            node, values, depth = done.node, done.values, done.depth
            if done.anchor is not None:
                anchors[done.anchor] = (node, values, depth)
            # Already counted in `total`, part by part, as it went by.
        elif kind is yaml.AliasEvent:
            if event.anchor not in anchors:
                raise YamlProblem(f"YAML syntax error: found undefined alias *{event.anchor}", _mark_line(event))
            named = anchors[event.anchor]
            if named is None:
                raise YamlProblem(f"the alias *{event.anchor} stands inside the value it names (a loop); "
                                  "write the value out", _mark_line(event))
            node, values, depth = named
            total += values
            if total > MAX_VALUES:
                _too_many(event)
        elif kind is yaml.DocumentStartEvent:
            documents += 1
            if documents > 1:
                raise YamlProblem("holds more than one YAML document (---); put every case in one",
                                  _mark_line(event))
            continue
        elif event is None or kind is yaml.StreamEndEvent:
            return root
        else:  # stream start, document end
            continue
        if not stack:
            root = node
            continue
        parent = stack[-1]
        parent.values += values
        if depth + 1 > parent.depth:
            parent.depth = depth + 1
            if parent.depth + len(stack) - 1 > MAX_DEPTH:
                raise YamlProblem(f"aliases (*name) nest this value deeper than {MAX_DEPTH} levels (a case "
                                  "needs about 8); flatten it", _mark_line(event))
        parent.add(node)


def _anchor(anchors: dict[str, Any], event: Any, entry: Any) -> None:
    """Register an anchor (PyYAML refuses one defined twice, and so does this)."""
    if event.anchor is None:
        return
    if event.anchor in anchors:
        raise YamlProblem(f"YAML syntax error: the anchor &{event.anchor} is defined twice; rename one",
                          _mark_line(event))
    anchors[event.anchor] = entry


def _too_many(event: Any, *, written: bool = False) -> None:
    if written:
        raise YamlProblem(f"holds more than {MAX_NODES:,} values, over the limit for a case file; draw large arrays "
                          "({shape, seed}) instead of writing them out, or split the file", _mark_line(event))
    raise YamlProblem(f"expands to more than {MAX_VALUES:,} values through aliases (*name), over the limit for a "
                      "case file; repeat less, or draw large arrays ({shape, seed})", _mark_line(event))


def _mark_line(event: Any) -> int | None:
    mark = getattr(event, "start_mark", None)
    return None if mark is None else mark.line + 1


def error_line(error: yaml.YAMLError) -> int | None:
    """The 1-based line a PyYAML error points at, when it says."""
    mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
    return None if mark is None else mark.line + 1


def error_problem(error: yaml.YAMLError) -> str:
    """What a PyYAML error says went wrong, on one line."""
    problem = getattr(error, "problem", None) or str(error).splitlines()[0]
    return " ".join(str(problem).split())[:200]


def _tag_hint(error: yaml.YAMLError) -> str:
    if "could not determine a constructor" in str(getattr(error, "problem", "")):
        return " (case files are plain YAML: no !!python or other application tags)"
    return ""


def _value_problem(error: Exception) -> str:
    text = str(error)
    if "integer string conversion" in text:
        return "an integer with more than 4,300 digits; no case needs one"
    return " ".join(text.split())[:200]
