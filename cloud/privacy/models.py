"""Consent documents (terms of use, privacy policy) and the audit chain's anchor.

A consent document is the text a resident agrees to on the kiosk before a call; each call
records the versions it was given (`CallRecord.terms_version/privacy_version`). A version that
has been in force is never changed or deleted: a new version replaces it.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import Date, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cloud.db.base import Base
from cloud.db.types import UTCDateTime


class ConsentKind(StrEnum):
    TERMS = "terms"  # 利用規約
    PRIVACY = "privacy"  # 個人情報の取扱い（プライバシーポリシー）


CONSENT_KIND_LABELS: dict[str, str] = {
    ConsentKind.TERMS: "利用規約",
    ConsentKind.PRIVACY: "個人情報の取扱い",
}


class ConsentDocument(Base):
    __tablename__ = "consent_document"
    __table_args__ = (UniqueConstraint("kind", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), index=True)
    version: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)  # Japanese text shown to the resident
    # In force from the start of this day (Japan time) until a later version takes over.
    effective_from: Mapped[date] = mapped_column(Date, index=True)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class AuditAnchor(Base):
    """Where the audit hash chain resumes after the purge removed its oldest entries: the
    id and chain hash of the last entry removed. One row (id 1)."""

    __tablename__ = "audit_anchor"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    entry_id: Mapped[int] = mapped_column(Integer)
    chain_hash: Mapped[str] = mapped_column(String(64))
    set_at: Mapped[datetime] = mapped_column(UTCDateTime())
