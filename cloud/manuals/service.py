"""The manual's workflow, each step inside the caller's transaction and audited.

draft → submitted → approved | returned. Only a draft changes; a submitted version is
frozen (corrections go into a new draft, copied from it). The version in force is the
approved version with the highest number, so approving a version older than the one in
force is refused: it would silently not take effect.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.audit import service as audit
from cloud.manuals.models import ManualState, ManualVersion
from cloud.routing.models import Procedure


class ManualError(Exception):
    """A step the caller may not take now (nothing changed)."""


class ManualNotFoundError(ManualError):
    pass


def _target(number: int) -> str:
    return f"manual:{number}"


async def in_force(*, db: AsyncSession) -> ManualVersion | None:
    return await db.scalar(
        select(ManualVersion)
        .where(ManualVersion.state == ManualState.APPROVED)
        .order_by(ManualVersion.number.desc())
        .limit(1)
    )


async def in_force_number(*, db: AsyncSession) -> int | None:
    """The number of the version in force (recorded on a call when it is accepted)."""
    number: int | None = await db.scalar(
        select(func.max(ManualVersion.number)).where(ManualVersion.state == ManualState.APPROVED)
    )
    return number


async def versions(*, db: AsyncSession) -> list[ManualVersion]:
    return list(await db.scalars(select(ManualVersion).order_by(ManualVersion.number.desc())))


async def get(*, db: AsyncSession, number: int, for_update: bool = False) -> ManualVersion:
    version = await db.get(
        ManualVersion, number, with_for_update=for_update, populate_existing=for_update
    )
    if version is None:
        raise ManualNotFoundError(f"no manual version {number}")
    return version


async def create_draft(
    *, db: AsyncSession, actor: str, based_on: int | None, change_note: str, now: datetime
) -> ManualVersion:
    """A new draft, copied from `based_on` (default: the newest version of any state, so a
    returned version's corrections continue from it), or empty for the very first."""
    open_draft = await db.scalar(
        select(ManualVersion.number).where(ManualVersion.state == ManualState.DRAFT).limit(1)
    )
    if open_draft is not None:
        raise ManualError(f"version {open_draft} is still a draft: edit or submit it first")
    if based_on is not None:
        source: ManualVersion | None = await get(db=db, number=based_on)
    else:
        source = await db.scalar(
            select(ManualVersion).order_by(ManualVersion.number.desc()).limit(1)
        )
    newest = await db.scalar(select(func.max(ManualVersion.number)))
    version = ManualVersion(
        number=(newest or 0) + 1,
        state=ManualState.DRAFT,
        based_on=source.number if source is not None else None,
        change_note=change_note,
        scripts=dict(source.scripts) if source is not None else {},
        faq=list(source.faq) if source is not None else [],
        created_by=actor,
        created_at=now,
        updated_at=now,
    )
    db.add(version)
    await db.flush()
    await audit.record(
        db=db,
        actor=actor,
        action="manual.draft",
        target=_target(version.number),
        detail={"based_on": version.based_on},
    )
    return version


async def edit_draft(
    *,
    db: AsyncSession,
    actor: str,
    number: int,
    change_note: str,
    scripts: dict[str, list[dict[str, str]]],
    faq: list[dict[str, Any]],
    now: datetime,
) -> ManualVersion:
    version = await get(db=db, number=number, for_update=True)
    if version.state != ManualState.DRAFT:
        raise ManualError(
            f"version {number} is {version.state} and can no longer be edited: create a new draft"
        )
    version.change_note, version.scripts, version.faq = change_note, scripts, faq
    version.updated_at = now
    await db.flush()
    await audit.record(
        db=db,
        actor=actor,
        action="manual.edit",
        target=_target(number),
        detail={"procedures": sorted(scripts), "faq_entries": len(faq)},
    )
    return version


def missing_procedures(version: ManualVersion) -> list[str]:
    return [p.value for p in Procedure if not version.scripts.get(p.value)]


async def submit(*, db: AsyncSession, actor: str, number: int, now: datetime) -> ManualVersion:
    version = await get(db=db, number=number, for_update=True)
    if version.state != ManualState.DRAFT:
        raise ManualError(f"version {number} is {version.state}: only a draft is submitted")
    missing = missing_procedures(version)
    if missing:
        raise ManualError(f"every procedure needs a script before submission: {missing}")
    version.state, version.submitted_by, version.submitted_at = ManualState.SUBMITTED, actor, now
    await db.flush()
    await audit.record(db=db, actor=actor, action="manual.submit", target=_target(number))
    return version


async def approve(*, db: AsyncSession, actor: str, number: int, now: datetime) -> ManualVersion:
    version = await get(db=db, number=number, for_update=True)
    if version.state != ManualState.SUBMITTED:
        raise ManualError(f"version {number} is {version.state}: only a submitted one is approved")
    current = await in_force_number(db=db)
    if current is not None and current > number:
        raise ManualError(
            f"version {current} is already in force; version {number} is older: return it"
        )
    version.state, version.reviewed_by, version.reviewed_at = ManualState.APPROVED, actor, now
    await db.flush()
    await audit.record(
        db=db,
        actor=actor,
        action="manual.approve",
        target=_target(number),
        detail={"replaces": current},
    )
    return version


async def return_with_comment(
    *, db: AsyncSession, actor: str, number: int, comment: str, now: datetime
) -> ManualVersion:
    if not comment.strip():
        raise ManualError("a returned version needs a comment saying what to correct")
    version = await get(db=db, number=number, for_update=True)
    if version.state != ManualState.SUBMITTED:
        raise ManualError(f"version {number} is {version.state}: only a submitted one is returned")
    version.state, version.reviewed_by, version.reviewed_at = ManualState.RETURNED, actor, now
    version.review_comment = comment.strip()
    await db.flush()
    await audit.record(
        db=db,
        actor=actor,
        action="manual.return",
        target=_target(number),
        detail={"comment": version.review_comment},
    )
    return version


# --- the FAQ search ---------------------------------------------------------------------------


def _normal(text: str) -> str:
    """Full-width and half-width alike, case folded: 'ＰＩＮ' finds 'pin'."""
    return unicodedata.normalize("NFKC", text).casefold()


@dataclass(frozen=True, slots=True)
class FaqHit:
    question: str
    answer: str
    tags: list[str]
    score: int


def search_faq(entries: list[dict[str, Any]], query: str | None) -> list[FaqHit]:
    """Entries containing every word of the query (in the question, the answer or a tag),
    best first: a tag match counts most, then the question, then the answer. No query:
    every entry, in the manual's order."""
    terms = [_normal(word) for word in (query or "").split() if word.strip()]
    hits: list[tuple[int, int, FaqHit]] = []
    for position, entry in enumerate(entries):
        question, answer = str(entry.get("question", "")), str(entry.get("answer", ""))
        tags = [str(tag) for tag in entry.get("tags", [])]
        q, a, t = _normal(question), _normal(answer), [_normal(tag) for tag in tags]
        score = 0
        for term in terms:
            in_tags = any(term in tag for tag in t)
            if not (in_tags or term in q or term in a):
                break
            score += 4 * in_tags + 2 * (term in q) + (term in a)
        else:
            hits.append((-score, position, FaqHit(question, answer, tags, score)))
    return [hit for _, _, hit in sorted(hits, key=lambda h: (h[0], h[1]))]
