"""Consent documents: recorded by admins, one current version per kind, frozen once in force.

The current version of a kind is the one with the latest `effective_from` on or before today
(Japan time); ties go to the later record. Kiosks are given the current versions in their
retained configuration; with nothing recorded they keep the protocol's default versions.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.privacy.models import ConsentDocument, ConsentKind
from cloud.routing.models import CallRecord
from protocol.v1 import KioskConfig

JAPAN = ZoneInfo("Asia/Tokyo")
DEFAULTS = KioskConfig()  # the versions a kiosk shows before any document is recorded


class DocumentInForceError(Exception):
    """The version has been in force (or a call recorded consent to it): never changed."""


class DuplicateVersionError(Exception):
    pass


def today_in_japan(now: datetime | None = None) -> date:
    return (now or datetime.now(UTC)).astimezone(JAPAN).date()


async def create(
    *,
    db: AsyncSession,
    kind: ConsentKind,
    version: str,
    title: str,
    body: str,
    effective_from: date,
    created_by: str,
) -> ConsentDocument:
    taken = await db.scalar(
        select(exists().where(ConsentDocument.kind == kind, ConsentDocument.version == version))
    )
    if taken:
        raise DuplicateVersionError(f"{kind} version {version} is already recorded")
    document = ConsentDocument(
        kind=kind.value,
        version=version,
        title=title,
        body=body,
        effective_from=effective_from,
        created_by=created_by,
        created_at=datetime.now(UTC),
    )
    db.add(document)
    await db.flush()
    return document


async def documents(*, db: AsyncSession, kind: ConsentKind | None = None) -> list[ConsentDocument]:
    query = select(ConsentDocument).order_by(
        ConsentDocument.kind, ConsentDocument.effective_from.desc(), ConsentDocument.id.desc()
    )
    if kind is not None:
        query = query.where(ConsentDocument.kind == kind.value)
    return list(await db.scalars(query))


async def current(*, db: AsyncSession, kind: ConsentKind, today: date) -> ConsentDocument | None:
    return await db.scalar(
        select(ConsentDocument)
        .where(ConsentDocument.kind == kind.value, ConsentDocument.effective_from <= today)
        .order_by(ConsentDocument.effective_from.desc(), ConsentDocument.id.desc())
        .limit(1)
    )


@dataclass(frozen=True, slots=True)
class CurrentVersions:
    terms: ConsentDocument | None
    privacy: ConsentDocument | None

    @property
    def recorded(self) -> bool:
        return self.terms is not None or self.privacy is not None

    @property
    def config_version(self) -> int:
        """A number that grows when a newer document becomes current (the config message's
        `version`)."""
        return max((d.id for d in (self.terms, self.privacy) if d is not None), default=1)

    def kiosk_config(self) -> KioskConfig:
        """The consent part of a kiosk's configuration (only these fields are set)."""
        return KioskConfig(
            terms_version=self.terms.version if self.terms else DEFAULTS.terms_version,
            privacy_version=self.privacy.version if self.privacy else DEFAULTS.privacy_version,
        )


async def current_versions(*, db: AsyncSession, today: date) -> CurrentVersions:
    return CurrentVersions(
        terms=await current(db=db, kind=ConsentKind.TERMS, today=today),
        privacy=await current(db=db, kind=ConsentKind.PRIVACY, today=today),
    )


async def kiosk_config(*, db: AsyncSession, today: date) -> KioskConfig:
    return (await current_versions(db=db, today=today)).kiosk_config()


async def in_force(*, db: AsyncSession, document: ConsentDocument, today: date) -> bool:
    """True once its effective day has come, or when a call recorded consent to it."""
    if document.effective_from <= today:
        return True
    column = (
        CallRecord.terms_version
        if document.kind == ConsentKind.TERMS
        else CallRecord.privacy_version
    )
    used = await db.scalar(
        select(func.count()).select_from(CallRecord).where(column == document.version)
    )
    return bool(used)


async def update(
    *,
    db: AsyncSession,
    document: ConsentDocument,
    title: str,
    body: str,
    effective_from: date,
    today: date,
) -> ConsentDocument:
    """Correct a version announced for a later day, before it takes effect."""
    if await in_force(db=db, document=document, today=today):
        raise DocumentInForceError(
            f"{document.kind} {document.version} has been in force: record a new version"
        )
    document.title, document.body, document.effective_from = title, body, effective_from
    await db.flush()
    return document


async def delete(*, db: AsyncSession, document: ConsentDocument, today: date) -> None:
    if await in_force(db=db, document=document, today=today):
        raise DocumentInForceError(
            f"{document.kind} {document.version} has been in force: it cannot be deleted"
        )
    await db.delete(document)
    await db.flush()
