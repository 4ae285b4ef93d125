"""The context the frontend passes share (passes.py runs them; each pass module reads this one)."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..kit.naming import Namer
from ..kit.origins import Origin


@dataclass
class PassContext:
    """What the passes share: fresh names, where the source came from (for errors), and the code after
    each pass."""

    namer: Namer  # shared with the walker (transform/context.py reserves the user's names in it)
    origin: Origin
    label: str = "vmap"  # how error messages name the transform
    stages: dict[str, str] = field(default_factory=dict)  # pass name -> the code after it

    @property
    def filename(self) -> str:
        return self.origin.filename
