"""Compose YAML into a node tree whose aliases cannot blow up: a billion-laughs file, a merge-key bomb or a
recursive anchor is refused with the line that does it, before anything reads the values."""

from __future__ import annotations

import yaml

# Values (scalars, sequences, mappings) the document may expand to, aliases followed: a real migrations.yaml
# with a hundred services has a few thousand.
MAX_VALUES = 100_000
# How deep collections may nest: a migrations.yaml needs six levels; PyYAML's composer (and every walk of the tree)
# recurses once a level, and a few hundred levels end in a RecursionError.
MAX_DEPTH = 64
# libyaml's parser when PyYAML was built with it (ten times faster than the pure-Python one); the same nodes.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class TooLarge(ValueError):
    """The document's aliases expand past MAX_VALUES, or an alias contains itself; `line` is 1-based."""

    def __init__(self, message: str, line: int) -> None:
        super().__init__(message)
        self.line = line


def compose(text: str) -> yaml.Node | None:
    """yaml.compose with the safe loader, once check_depth passed, then check_expansion."""
    check_depth(text)
    root = yaml.compose(text, Loader=_LOADER)
    if root is not None:
        check_expansion(root)
    return root


def check_depth(text: str) -> None:
    """Refuse collections nested deeper than MAX_DEPTH, from the parser's events (before any tree is built)."""
    depth = 0
    for event in yaml.parse(text, Loader=_LOADER):
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                line = event.start_mark.line + 1 if event.start_mark is not None else 1
                raise TooLarge(f"its values nest more than {MAX_DEPTH} levels deep; a migrations.yaml needs a handful", line)
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


def check_expansion(root: yaml.Node) -> None:
    """Walk `root` as a loader would construct it (each alias expanded); stop at MAX_VALUES values or at a cycle.

    A refusal names the line of the outermost anchor being expanded again (the alias's own line is not kept).
    """
    count = 0
    seen: set[int] = set()
    on_path: set[int] = set()
    stack: list[tuple[yaml.Node, bool, int | None]] = [(root, False, None)]
    while stack:
        node, leaving, alias_line = stack.pop()
        if leaving:
            on_path.discard(id(node))
            continue
        if alias_line is None and id(node) in seen:
            alias_line = _line(node)
        if id(node) in on_path:
            raise TooLarge("an alias refers to the anchor that contains it; a value cannot contain itself", _line(node))
        seen.add(id(node))
        count += 1
        if count > MAX_VALUES:
            raise TooLarge(
                f"its aliases expand to more than {MAX_VALUES} values (a YAML bomb?); write the values out",
                alias_line or _line(node),
            )
        if isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        elif isinstance(node, yaml.MappingNode):
            children = [child for pair in node.value for child in pair]
        else:
            continue
        on_path.add(id(node))
        stack.append((node, True, alias_line))
        stack.extend((child, False, alias_line) for child in reversed(children))


def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1
