"""Linkage held by the trusted party: it reads the quasi-identifiers, keeps the link table.

Indirect linkage needs birth month and département, which only the trusted party holds. So the
run happens on its side: ``linkage_variables`` gives the cohort's variables keyed by study
pseudonym (audited, never leaving the process), ``record_run`` stores the accepted links, the
pairs for clerical review (with their compared values, sealed) and the trained model; study teams
only ever see counts and metrics, and a clerical reviewer sees each uncertain pair's
quasi-identifiers side by side with the weight of each comparison, never a name or an identifier.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pandas as pd
from sqlalchemy import func, select

from workbench import audit
from workbench.errors import ConflictError, NotFoundError, ValidationError
from workbench.storage.base import utcnow
from workbench.storage.engine import session_scope
from workbench.trusted_party.domains import chunks, lookup_codes
from workbench.trusted_party.keys import open_sealed, seal
from workbench.trusted_party.registry import unseal
from workbench.trusted_party.schema import identities, link_details, link_runs, links
from workbench.trusted_party.service import TrustedParty

__all__ = ["decide", "linkage_variables", "record_run", "review_queue", "run_summary"]


def _departement(postcode: str) -> str | None:
    code = postcode.strip()
    if len(code) != 5 or not code.isdigit():
        return None
    if code.startswith(("97", "98")):
        return code[:3]
    if code.startswith("20"):  # Corsica: 2A below 20200, 2B from it
        return "2A" if int(code) < 20200 else "2B"
    return code[:2]


def linkage_variables(tp: TrustedParty, codes: Sequence[str], domain: str, *, actor: str,
                      purpose: str) -> pd.DataFrame:
    """Sex, birth year and month, département for study pseudonyms (erased identities left out)."""
    if not purpose.strip():
        raise ValidationError("state the authorised purpose of this linkage", where="purpose")
    rows = []
    with session_scope(tp.engine) as s:
        dom = tp.domain(s, domain, actor=actor)
        known = lookup_codes(s, dom.id, list(codes))
        ids = sorted({r.id for r in known.values()})
        sealed: dict[int, bytes] = {}
        for part in chunks(ids):
            sealed.update(s.execute(select(identities.c.person_id, identities.c.sealed)
                                    .where(identities.c.person_id.in_(part))).all())
        for code, row in known.items():
            if row.id not in sealed:
                continue
            who = unseal(tp, row.uid, sealed[row.id])
            rows.append({"study_id": code, "sex": {"M": "1", "F": "2"}.get(who.sex, ""),
                         "birth_year": str(who.birth_date.year), "birth_month": str(who.birth_date.month),
                         "dpt": _departement(who.postcode) or ""})
        audit.record(s, actor=actor, action="ttp.linkage.variables", object_type="domain", object_id=domain,
                     reason=purpose, after={"requested": len(codes), "released": len(rows)})
    return pd.DataFrame(rows, columns=["study_id", "sex", "birth_year", "birth_month", "dpt"])


def _context(link_id: int) -> bytes:
    return f"link-detail:{link_id}".encode()


def record_run(tp: TrustedParty, run_id: str, domain: str, source: str, accepted: pd.DataFrame,
               review: pd.DataFrame, model: dict[str, Any], metrics: dict[str, Any], *, actor: str) -> dict[str, int]:
    """Store one run's links (``study_id``, ``snds_id``, ``evidence_bits``) under the TTP's custody;
    a review pair's ``comparisons`` (``compared_values``), if given, are kept sealed beside it."""
    if not run_id or len(run_id) > 64:
        raise ValidationError("a run id of 1 to 64 characters", where="run")
    with session_scope(tp.engine) as s:
        if s.execute(select(link_runs.c.run_id).where(link_runs.c.run_id == run_id)).first():
            raise ConflictError(f"linkage run {run_id!r} already exists")
        dom = tp.domain(s, domain, actor=actor)
        codes = list(accepted["study_id"]) + list(review["study_id"])
        known = lookup_codes(s, dom.id, codes)
        s.execute(link_runs.insert().values(run_id=run_id, domain=domain, source=source,
                                            model=json.dumps(model), metrics=json.dumps(metrics, default=str),
                                            created_by=actor, created_at=utcnow()))
        counts = {"linked": 0, "review": 0}
        for frame, status in ((accepted, "linked"), (review, "review")):
            values = [{"run_id": run_id, "person_id": known[c].id, "external_id": str(x), "evidence_bits": float(e),
                       "status": status}
                      for c, x, e in zip(frame["study_id"], frame["snds_id"], frame["evidence_bits"], strict=True)
                      if c in known]
            if values:
                s.execute(links.insert(), values)
            counts[status] = len(values)
        if "comparisons" in review.columns and counts["review"]:
            ids = dict(s.execute(select(links.c.person_id, links.c.id).where(
                links.c.run_id == run_id, links.c.status == "review")).all())
            details = [{"link_id": ids[known[c].id],
                        "sealed": seal(tp._identity_key, json.dumps(shown).encode(), _context(ids[known[c].id]))}
                       for c, shown in zip(review["study_id"], review["comparisons"], strict=True) if c in known]
            s.execute(link_details.insert(), details)
        audit.record(s, actor=actor, action="ttp.linkage.run", object_type="domain", object_id=domain,
                     reason=source, after={"run": run_id, **counts})
    return counts


def review_queue(tp: TrustedParty, run_id: str, *, actor: str) -> list[dict[str, Any]]:
    """Pairs awaiting clerical review, best first, each with ``comparisons``: per comparison the
    study's and the SNDS side's value, the level reached and its match weight in bits (an empty
    list for a run made before they were kept). Audited: the reviewer sees quasi-identifiers."""
    with session_scope(tp.engine) as s:
        if s.execute(select(link_runs.c.run_id).where(link_runs.c.run_id == run_id)).first() is None:
            raise NotFoundError(f"no linkage run {run_id!r}")
        rows = s.execute(select(links.c.id, links.c.external_id, links.c.evidence_bits, link_details.c.sealed)
                         .outerjoin(link_details, link_details.c.link_id == links.c.id)
                         .where(links.c.run_id == run_id, links.c.status == "review")
                         .order_by(links.c.evidence_bits.desc(), links.c.id)).all()
        audit.record(s, actor=actor, action="ttp.linkage.review.show", object_type="link_run", object_id=run_id,
                     reason="clerical review", after={"pairs": len(rows),
                                                      "with_values": sum(r.sealed is not None for r in rows)})
    return [{"id": r.id, "external_id": r.external_id, "evidence_bits": r.evidence_bits,
             "comparisons": json.loads(open_sealed(tp._identity_key, r.sealed, _context(r.id)))
             if r.sealed is not None else []} for r in rows]


def decide(tp: TrustedParty, link_id: int, *, same_person: bool, actor: str) -> None:
    """A clerical reviewer's decision on an uncertain pair (audited)."""
    with session_scope(tp.engine) as s:
        row = s.execute(select(links).where(links.c.id == link_id)).first()
        if row is None:
            raise NotFoundError(f"no link {link_id}")
        if row.status != "review":
            raise ConflictError(f"link {link_id} is {row.status}, not awaiting review")
        status = "confirmed" if same_person else "rejected"
        s.execute(links.update().where(links.c.id == link_id).values(
            status=status, decided_by=actor, decided_at=utcnow()))
        audit.record(s, actor=actor, action="ttp.linkage.review", object_type="link", object_id=str(link_id),
                     after={"status": status})


def run_summary(tp: TrustedParty, run_id: str) -> dict[str, Any]:
    """What may leave the trusted party: counts per status and the run's metrics."""
    with session_scope(tp.engine) as s:
        run = s.execute(select(link_runs).where(link_runs.c.run_id == run_id)).first()
        if run is None:
            raise NotFoundError(f"no linkage run {run_id!r}")
        counts = dict(s.execute(select(links.c.status, func.count()).where(links.c.run_id == run_id)
                                .group_by(links.c.status)).all())
    return {"run": run_id, "source": run.source, "domain": run.domain, "counts": counts,
            "metrics": json.loads(run.metrics)}
