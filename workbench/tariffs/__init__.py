"""Tariff quotes computed from pricing grids kept as data (``grids.toml`` or a site's copy)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.errors import ValidationError

__all__ = ["DEFAULT_GRIDS", "Quote", "access_quote", "load_grids", "study_quote"]

DEFAULT_GRIDS = Path(__file__).with_name("grids.toml")
SPONSOR_STATUSES = ("partner", "collaborator", "non_partner")
SECTORS = ("academic", "private")
ACCESS_STATUSES = ("academic", "partner_private", "private")


@dataclass(frozen=True)
class Quote:
    total: float
    lines: list[tuple[str, float]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"total": self.total, "lines": [{"item": k, "amount": v} for k, v in self.lines]}


def load_grids(path: Path | None = None) -> dict[str, Any]:
    source = path or DEFAULT_GRIDS
    try:
        return tomllib.loads(source.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ValidationError(f"cannot read the pricing grid: {exc}", where=str(source)) from None


def _tier(tiers: list[dict[str, Any]], amount: float, key: str) -> Any:
    chosen = None
    for tier in sorted(tiers, key=lambda t: t["from"]):
        if amount >= tier["from"]:
            chosen = tier[key] if key else tier
    return chosen


def study_quote(
    grids: dict[str, Any], *, sponsor_status: str, sector: str, modules: int, development_days: float,
    projects_per_year: int, deposit: bool,
) -> Quote:
    if sponsor_status not in SPONSOR_STATUSES:
        raise ValidationError(f"one of {', '.join(SPONSOR_STATUSES)}", where="sponsor status")
    if sector not in SECTORS:
        raise ValidationError(f"one of {', '.join(SECTORS)}", where="sponsor sector")
    if modules < 0 or development_days < 0 or projects_per_year < 1:
        raise ValidationError("counts cannot be negative", where="tariff")
    g = grids["study"]
    lines = [
        ("platform fee", float(g["base"][f"{sponsor_status}_{sector}"])),
        (f"{modules} module(s)", float(modules * g["module"][sector])),
        (f"{development_days:g} development day(s)", float(development_days * g["development_day"][sector])),
    ]
    if deposit:
        lines.append(("warehouse deposit", float(g["deposit"][sector])))
    subtotal = sum(v for _, v in lines)
    rate = _tier(g["volume_discount"], projects_per_year, "rate") or 0.0
    if rate:
        lines.append((f"volume discount ({projects_per_year} projects/year)", -round(subtotal * rate, 2)))
    return Quote(round(sum(v for _, v in lines), 2), lines)


def access_quote(grids: dict[str, Any], *, requester_status: str, variables: int, studies: int) -> Quote:
    if requester_status not in ACCESS_STATUSES:
        raise ValidationError(f"one of {', '.join(ACCESS_STATUSES)}", where="requester status")
    if variables < 1 or studies < 1:
        raise ValidationError("request at least one variable from one study", where="tariff")
    g = grids["access"]
    lines = [
        ("access fee", float(g["base"][requester_status])),
        (f"volume ({variables} variables)", float(_tier(g["volume"], variables, requester_status))),
        (f"{studies} study/studies", float(studies * g["per_study"][requester_status])),
    ]
    return Quote(round(sum(v for _, v in lines), 2), lines)
