"""What a request costs: one counter fee per request (from a per-year table in
configuration), plus the supplement for an association the BCE does not know yet.

End of the outgoing syndic + appointment of the incoming one filed together is one request,
so one fee; filed separately they are two requests, two fees.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

FEES_FILE = "fees.toml"


@dataclass(frozen=True)
class FeeTable:
    by_year: dict[int, int]
    supplement: int
    """Cents excl. VAT for an association unknown to the BCE."""
    supplement_vat_rate: int

    def fee(self, year: int) -> int:
        """The fee of ``year``; a later year carries the last known fee, an earlier one
        (before the first listed year, i.e. before the obligation existed) the first."""
        known = sorted(self.by_year)
        if year in self.by_year:
            return self.by_year[year]
        earlier = [y for y in known if y < year]
        return self.by_year[earlier[-1] if earlier else known[0]]

    @property
    def supplement_vat(self) -> int:
        return (self.supplement * self.supplement_vat_rate + 50) // 100


def parse(data: dict[str, Any]) -> FeeTable:
    try:
        by_year = {int(year): int(cents) for year, cents in data["fees"].items()}
        supplement = data["supplement"]
        table = FeeTable(by_year, int(supplement["unknown_association"]),
                         int(supplement["vat_rate"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"syndic fee table: {exc!r}") from None
    if not by_year or any(c <= 0 for c in by_year.values()) or table.supplement < 0:
        raise ValueError("syndic fee table: every fee must be a positive number of cents")
    return table


@cache
def _load(path: Path | None) -> FeeTable:
    if path is None:
        raw = resources.files("webclient.portal.syndic").joinpath(FEES_FILE).read_text("utf-8")
    else:
        raw = path.read_text("utf-8")
    return parse(tomllib.loads(raw))


def fee_table(path: Path | None = None) -> FeeTable:
    """The shipped table, or the file the settings name."""
    return _load(path)


@dataclass(frozen=True)
class Price:
    year: int
    fee: int
    supplement: int
    supplement_vat: int

    @property
    def total(self) -> int:
        return self.fee + self.supplement + self.supplement_vat


def price(table: FeeTable, year: int, *, unknown_association: bool) -> Price:
    """The price of ONE request filed in ``year``."""
    if unknown_association:
        return Price(year, table.fee(year), table.supplement, table.supplement_vat)
    return Price(year, table.fee(year), 0, 0)
