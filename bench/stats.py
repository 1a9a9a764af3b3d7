"""Percentiles and the one-line summaries every benchmark prints.

A stop that never reached the model counts as infinitely late (`math.inf`): it is the worst
possible stop, and leaving it out would flatter the system that loses stops.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

# statistics.quantiles interpolates, and inf * 0 is nan: a finite stand-in keeps the
# arithmetic sound, and a result that leans on it at all is inf.
_NEVER = 1e15


def percentile(values: Sequence[float], pct: int) -> float:
    """The pct-th percentile (inclusive method); nan when there is no value."""
    if not values:
        return math.nan
    if len(values) == 1:
        return values[0]
    finite = [v for v in values if math.isfinite(v)]
    stand_in = [v if math.isfinite(v) else _NEVER for v in values]
    result = statistics.quantiles(stand_in, n=100, method="inclusive")[pct - 1]
    return math.inf if not finite or result > max(finite) else result


@dataclass(frozen=True)
class Summary:
    n: int
    p50: float
    p95: float
    mean: float
    max: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Summary:
        finite = [v for v in values if math.isfinite(v)]
        return cls(
            n=len(values),
            p50=percentile(values, 50),
            p95=percentile(values, 95),
            mean=statistics.fmean(finite) if finite else math.nan,
            max=max(values) if values else math.nan,
        )

    def line(self, unit: str = "ms") -> str:
        return (
            f"p50 {ms(self.p50, unit)}  p95 {ms(self.p95, unit)}  "
            f"(n={self.n}, mean {ms(self.mean, unit)}, max {ms(self.max, unit)})"
        )


def ms(value: float, unit: str = "ms") -> str:
    if math.isnan(value):
        return "-"
    if math.isinf(value):
        return "never"
    return f"{value:,.1f} {unit}" if value < 100 else f"{value:,.0f} {unit}"


def table(header: Sequence[str], rows: Sequence[Sequence[str]], indent: str = "  ") -> str:
    """A plain text table, columns padded to their widest cell, first column left-aligned."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]

    def fmt(row: Sequence[str]) -> str:
        cells = [
            str(c).ljust(w) if i == 0 else str(c).rjust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        return indent + "  ".join(cells).rstrip()

    rule = indent + "  ".join("-" * w for w in widths)
    return "\n".join([fmt(header), rule, *(fmt(r) for r in rows)])
