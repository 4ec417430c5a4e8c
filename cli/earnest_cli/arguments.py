"""Command-line values checked where they are parsed: a number out of its range is refused
in one line naming the range, before anything is read or written."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from typing import NoReturn


class Parser(argparse.ArgumentParser):
    """argparse, with a mistake told in one line (the usage is one `--help` away)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see `{self.prog} --help`)\n")


def integer(low: int, high: int, unit: str = "") -> Callable[[str], int]:
    """An argparse type: a whole number from `low` to `high`."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{value} is out of range: {low} to {high}{unit}")
        return value

    return parse


def number(
    low: float, high: float = math.inf, *, exclusive: bool = False
) -> Callable[[str], float]:
    """An argparse type: a finite number from `low` to `high` (between them, `exclusive`)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        inside = low < value < high if exclusive else low <= value <= high
        if not (math.isfinite(value) and inside):
            above, below = ("above", "below") if exclusive else ("at least", "at most")
            upto = "" if high == math.inf else f" and {below} {high:g}"
            bound = f"{above} {low:g}"
            raise argparse.ArgumentTypeError(f"{text} is out of range: {bound}{upto}")
        return value

    return parse


PORT = integer(0, 65535, " (0: any free port)")
