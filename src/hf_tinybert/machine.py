"""What the machine is doing while something is measured: its load average, recorded before and after.

Timings taken while other processes share the cores are not results (one of ours was 9x off). Every benchmark
table records the load it ran under with `LoadRecord`, and says so in its first line when the machine was busy.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field


def load_average() -> float | None:
    """The 1-minute load average, to 2 decimals (None where the OS has none)."""
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        return None


def cores() -> int:
    """The CPU cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _or_nan(value: float | None) -> float:
    return math.nan if value is None else value


@dataclass
class LoadRecord:
    """The load average at the start and the end of a measurement.

    `LoadRecord.start()` at the start, `.finish()` at the end; `.busy` when the start's load exceeded half the
    cores (other jobs were running), `.warning()` the line a table then starts with, `.sentence()` what every table
    records.
    """

    before: float
    after: float = math.nan
    cores: int = field(default_factory=cores)

    @classmethod
    def start(cls) -> LoadRecord:
        return cls(_or_nan(load_average()))

    def finish(self) -> LoadRecord:
        self.after = _or_nan(load_average())
        return self

    @property
    def busy(self) -> bool:
        return self.before > self.cores / 2

    def warning(self) -> str | None:
        if not self.busy:
            return None
        return (
            f"**Measured on a busy machine: the 1-minute load average was {self.before:.2f} at the start, more than "
            f"half of the {self.cores} cores. Other jobs shared the CPUs; these numbers are not a result.**"
        )

    def sentence(self) -> str:
        return (
            f"Machine load (1-minute average) at the start / end: {self.before:.2f} / {self.after:.2f} on "
            f"{self.cores} cores (the end includes this benchmark's own threads)."
        )

    def to_dict(self) -> dict:
        return {"load_before": self.before, "load_after": self.after, "cores": self.cores, "busy": self.busy}

    def header(self, lines: list[str]) -> list[str]:
        """`lines` (a table's Markdown lines, title first) with the warning under the title when the machine was busy."""
        warning = self.warning()
        if warning is None:
            return list(lines)
        return [lines[0], "", warning, *lines[1:]]
