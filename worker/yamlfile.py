"""Reads YAML files that privacy staff edit, keeping line numbers so errors can point at them."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

import pydantic
import yaml

from worker.errors import RulesError

Model = TypeVar("Model", bound=pydantic.BaseModel)


class LineDict(dict[Any, Any]):
    """A YAML mapping that remembers the line of itself and of each of its keys."""

    line: int = 0
    key_lines: dict[Any, int]


class LineList(list[Any]):
    """A YAML sequence that remembers the line of itself and of each item."""

    line: int = 0
    item_lines: list[int]


class _LineLoader(yaml.SafeLoader):
    """A safe loader whose mappings and sequences carry 1-based line numbers."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> LineDict:
        result = LineDict(super().construct_mapping(node, deep=True))
        result.line = node.start_mark.line + 1
        result.key_lines = {
            self.construct_object(key, deep=True): key.start_mark.line + 1 for key, _ in node.value
        }
        return result

    def construct_sequence(self, node: yaml.SequenceNode, deep: bool = False) -> LineList:
        result = LineList(super().construct_sequence(node, deep=True))
        result.line = node.start_mark.line + 1
        result.item_lines = [item.start_mark.line + 1 for item in node.value]
        return result


_LineLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
    _LineLoader.construct_mapping,
)
_LineLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG,
    _LineLoader.construct_sequence,
)


def load_yaml(path: Path) -> Any:
    """Parses a YAML file; a syntax error becomes a RulesError with its line."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise RulesError(str(path), None, f"cannot read: {err}") from err
    try:
        return yaml.load(text, Loader=_LineLoader)
    except yaml.MarkedYAMLError as err:
        line = err.problem_mark.line + 1 if err.problem_mark else None
        raise RulesError(str(path), line, f"YAML syntax: {err.problem}") from err
    except yaml.YAMLError as err:
        raise RulesError(str(path), None, f"YAML syntax: {err}") from err


def line_of(data: Any, loc: Sequence[int | str]) -> int | None:
    """The line of the deepest node along a pydantic error location that the file has."""
    line: int | None = getattr(data, "line", None)
    node = data
    for step in loc:
        if isinstance(node, LineDict) and step in node:
            line = node.key_lines.get(step, line)
            node = node[step]
        elif isinstance(node, LineList) and isinstance(step, int) and step < len(node):
            line = node.item_lines[step]
            node = node[step]
        else:
            break
    return line


def validate(model: type[Model], data: Any, path: Path) -> Model:
    """Validates parsed YAML against a model; the first problem becomes a RulesError."""
    try:
        return model.model_validate(data)
    except pydantic.ValidationError as err:
        errors = err.errors()
        problems = []
        for error in errors[:5]:
            where = ".".join(str(part) for part in error["loc"])
            line = line_of(data, error["loc"])
            problems.append(f"{where} (line {line}): {error['msg']}" if where else error["msg"])
        more = f"; and {len(errors) - 5} more" if len(errors) > 5 else ""
        first_line = line_of(data, errors[0]["loc"])
        raise RulesError(str(path), first_line, "; ".join(problems) + more) from err


def load_model(model: type[Model], path: Path) -> Model:
    """Loads and validates one YAML file."""
    return validate(model, load_yaml(path), path)
