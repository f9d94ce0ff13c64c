"""``--target`` as given on the command line: repeated (``--target a --target b``) or ``a,b``, each value kept
in ``targets_given`` (gate.py checks several at once); ``target`` is the last, the one a single run checks."""

from __future__ import annotations

import argparse
from typing import Any


class TargetsGiven(argparse.Action):
    def __call__(self, parser: Any, namespace: Any, values: Any, option_string: str | None = None) -> None:
        given = list(getattr(namespace, "targets_given", None) or [])
        given += [v for v in str(values).split(",") if v]
        namespace.targets_given = given
        setattr(namespace, self.dest, given[-1] if given else values)
