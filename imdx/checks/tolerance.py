"""How far published parts may be from their published total before a check reports the gap.

A publisher of exact counts (UN DESA's migrant stock, UNHCR's refugees: persons, counted) makes its
parts add up to its totals to the unit, so a gap of more than a few units is real: a member left out,
a split not published. A publisher of rounded figures (thousands, millions of dollars, modelled
estimates) cannot, and its gaps are judged relative to the total. Each source declares which it is
(:attr:`imdx.sources.base.Source.tolerance`, per dataflow where they differ); the rules take the
tolerance they are given and hard-code none.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Tolerance:
    """A gap is reported when it is more than ``absolute`` units *and* more than ``relative`` times the
    larger of the total and the parts' absolute sum."""

    absolute: float
    relative: float
    basis: str  # what the publisher's figures are, in a person's words

    @classmethod
    def exact(cls, units: float = 3) -> Tolerance:
        """Exact counts: a gap of more than ``units`` is reported, however small against the total."""
        return cls(units, 0.0, "exact counts")

    @classmethod
    def rounded(cls, relative: float = 0.005, units: float = 5) -> Tolerance:
        """Rounded or estimated figures: a gap is reported past ``relative`` of the total."""
        return cls(units, relative, "rounded figures")

    def exceeded(self, gap: np.ndarray, scale: np.ndarray) -> np.ndarray:
        gap = np.abs(gap)
        return (gap > self.absolute) & (gap / np.maximum(np.abs(scale), 1) > self.relative)

    def describe(self) -> str:
        if self.relative == 0:
            return f"{self.basis}: gaps of more than {self.absolute:g} reported"
        return f"{self.basis}: gaps of more than {self.relative:.1%} (and {self.absolute:g}) reported"


#: the default, for a publisher that declares nothing (and SDMX messages from anyone)
ROUNDED = Tolerance.rounded()
EXACT = Tolerance.exact()
