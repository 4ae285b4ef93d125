"""Readable, deterministic fresh names (`name_1`, `name_2`, ...) that avoid every name in use."""

from __future__ import annotations

import ast


class Namer:
    def __init__(self, taken=()):
        self.taken = set(taken)

    @classmethod
    def for_tree(cls, tree: ast.AST, extra=()) -> Namer:
        names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
        names |= {n.arg for n in ast.walk(tree) if isinstance(n, ast.arg)}
        names |= {
            n.name
            for n in ast.walk(tree)
            if isinstance(n, (ast.FunctionDef, ast.Lambda)) and hasattr(n, "name")
        }
        return cls(names | set(extra))

    def fresh(self, hint: str) -> str:
        """`hint` if unused, else `hint_1`, `hint_2`, ..."""
        if hint not in self.taken:
            self.taken.add(hint)
            return hint
        i = 1
        while f"{hint}_{i}" in self.taken:
            i += 1
        name = f"{hint}_{i}"
        self.taken.add(name)
        return name

    def reserve(self, name: str) -> None:
        self.taken.add(name)
