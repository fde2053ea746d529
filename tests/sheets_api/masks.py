"""Field masks (``fields=sheets(properties,data.rowData.values)``): parsing and applying them."""

from __future__ import annotations

import re
from typing import Any

from tests.sheets_api.errors import ApiError


def parse_mask(text: str) -> dict:
    """``a(b,c.d),e`` -> {"a": {"b": None, "c": {"d": None}}, "e": None} (None = everything)."""
    pos = 0

    def parse_list() -> dict:
        nonlocal pos
        tree: dict = {}
        while pos < len(text):
            m = re.compile(r"[A-Za-z_]+(?:[./][A-Za-z_]+)*").match(text, pos)
            if not m:
                raise ApiError(400, f"Invalid field selection {text}")
            path = re.split(r"[./]", m.group(0))
            pos = m.end()
            sub = None
            if pos < len(text) and text[pos] == "(":
                pos += 1
                sub = parse_list()
                if pos >= len(text) or text[pos] != ")":
                    raise ApiError(400, f"Invalid field selection {text}")
                pos += 1
            _merge(tree, path, sub)
            if pos < len(text) and text[pos] == ",":
                pos += 1
                continue
            break
        return tree

    tree = parse_list()
    if pos != len(text):
        raise ApiError(400, f"Invalid field selection {text}")
    return tree


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p.title() for p in rest)


def _merge(tree: dict, path: list[str], sub: dict | None) -> None:
    node = tree
    for i, name in enumerate(path):
        name = _camel(name)
        last = i == len(path) - 1
        if name in node and node[name] is None:
            return
        if last:
            if sub is None:
                node[name] = None
            else:
                node.setdefault(name, {})
                for k, v in sub.items():
                    _merge(node[name], [k], v)
        else:
            node = node.setdefault(name, {})


def strip_row_data(tree: dict | None) -> dict | None:
    """A GridData mask without its rowData part (rowData is built already masked)."""
    if tree is None:
        return None
    return {k: v for k, v in tree.items() if k != "rowData"}


def apply_mask(obj: Any, tree: dict | None) -> Any:
    if tree is None:
        return obj
    if isinstance(obj, list):
        return [apply_mask(x, tree) for x in obj]
    if isinstance(obj, dict):
        return {k: apply_mask(v, tree[k]) for k, v in obj.items() if k in tree}
    return obj
