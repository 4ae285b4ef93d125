"""Where user code came from: file, line offset, and the source line text for comments and errors."""

from __future__ import annotations

import linecache
import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Origin:
    filename: str  # as in the code object (`co_filename`)
    firstlineno: int  # line of the `def`/`lambda` in that file

    def line(self, lineno: int) -> str:
        return linecache.getline(self.filename, lineno).strip()

    @property
    def display_name(self) -> str:
        """The path relative to the current directory when it is below it (for headers)."""
        try:
            rel = os.path.relpath(self.filename)
        except ValueError:
            return self.filename
        return self.filename if rel.startswith("..") else rel
