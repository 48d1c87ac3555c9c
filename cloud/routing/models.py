"""The call queue and operator presence, kept in the database so that every control-plane
replica routes from the same state and a restart forgets no waiting resident.

A call's life: queued → ringing (offered to one operator) → connected → ended; a ring
that times out puts the call back in the queue at its original place. Nothing here is
personal data: a call is a kiosk, times, the consent versions, and the outcome codes.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column

from cloud.db.base import Base
from cloud.db.types import UTCDateTime


class CallState(StrEnum):
    QUEUED = "queued"
    RINGING = "ringing"
    CONNECTED = "connected"
    ENDED = "ended"


ACTIVE_CALL_STATES = (CallState.QUEUED, CallState.RINGING, CallState.CONNECTED)


class Presence(StrEnum):
    AVAILABLE = "available"
    RINGING = "ringing"
    IN_CALL = "in_call"
    WRAP_UP = "wrap_up"
    AWAY = "away"
    OFFLINE = "offline"


class Procedure(StrEnum):
    HEALTH_INSURANCE = "health_insurance"  # 健康保険証利用登録
    PUBLIC_FUNDS_ACCOUNT = "public_funds_account"  # 公金受取口座登録
    OTHER_MYNAPORTAL = "other_mynaportal"  # その他マイナポータル手続
    NEW_CARD = "new_card"  # 新規交付申請
    RENEWAL = "renewal"  # 更新申請
    REFERRAL_ONLY = "referral_only"  # 案内のみ


class Outcome(StrEnum):
    COMPLETED = "completed"
    NOT_COMPLETED = "not_completed"
    REFERRED = "referred"


class NotCompletedReason(StrEnum):
    CARD_LOCKED = "card_locked"
    PIN_FORGOTTEN = "pin_forgotten"
    NO_FORM = "no_form"
    PHOTO_FAILED = "photo_failed"
    SYSTEM_TROUBLE = "system_trouble"
    RESIDENT_LEFT = "resident_left"
    OTHER = "other"


# Japanese labels for the pages and the reports (one list for all of them).
PROCEDURE_LABELS: dict[str, str] = {
    Procedure.HEALTH_INSURANCE: "健康保険証利用登録",
    Procedure.PUBLIC_FUNDS_ACCOUNT: "公金受取口座登録",
    Procedure.OTHER_MYNAPORTAL: "その他マイナポータル手続",
    Procedure.NEW_CARD: "新規交付申請",
    Procedure.RENEWAL: "更新申請",
    Procedure.REFERRAL_ONLY: "案内のみ",
}
OUTCOME_LABELS: dict[str, str] = {
    Outcome.COMPLETED: "完了",
    Outcome.NOT_COMPLETED: "未完了",
    Outcome.REFERRED: "窓口案内",
}
REASON_LABELS: dict[str, str] = {
    NotCompletedReason.CARD_LOCKED: "暗証番号ロック",
    NotCompletedReason.PIN_FORGOTTEN: "暗証番号不明",
    NotCompletedReason.NO_FORM: "申請書なし",
    NotCompletedReason.PHOTO_FAILED: "顔写真不適合",
    NotCompletedReason.SYSTEM_TROUBLE: "システム障害",
    NotCompletedReason.RESIDENT_LEFT: "住民が離席",
    NotCompletedReason.OTHER: "その他",
}


class CallRecord(Base):
    __tablename__ = "call"

    call_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    kiosk_id: Mapped[str] = mapped_column(String(63), index=True)
    site_id: Mapped[str] = mapped_column(String(63), index=True)
    state: Mapped[str] = mapped_column(String(16), index=True)
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    language: Mapped[str] = mapped_column(String(8), default="ja")
    terms_version: Mapped[str] = mapped_column(String(64))
    privacy_version: Mapped[str] = mapped_column(String(64))
    operator_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff_user.id", ondelete="SET NULL"), index=True
    )
    ring_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ring_count: Mapped[int] = mapped_column(Integer, default=0)
    connected_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    end_reason: Mapped[str | None] = mapped_column(String(32))
    announced_position: Mapped[int | None] = mapped_column(Integer)
    support_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    # The kiosk's SDP offer, relayed to the operator's browser through the database so that
    # any replica can serve the operator's WebSocket; cleared when the call ends.
    kiosk_offer: Mapped[str | None] = mapped_column(Text)
    answer_sent: Mapped[bool] = mapped_column(Boolean, default=False)
    procedure: Mapped[str | None] = mapped_column(String(32))
    outcome: Mapped[str | None] = mapped_column(String(16))
    outcome_reason: Mapped[str | None] = mapped_column(String(32))
    outcome_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The operator manual's version in force when the operator accepted the call.
    manual_version: Mapped[int | None] = mapped_column(Integer)
    # From a training kiosk (copied from the kiosk when requested): routed only to operators
    # in training mode and never counted in a report.
    training: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false(), index=True
    )


class OperatorPresence(Base):
    __tablename__ = "operator_presence"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("staff_user.id", ondelete="CASCADE"), primary_key=True
    )
    status: Mapped[str] = mapped_column(String(16), index=True)
    since: Mapped[datetime] = mapped_column(UTCDateTime())
    # When the operator last became available: the idle-longest operator is rung first.
    available_since: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The operator's console proves it is alive; a stale heartbeat is not routed to.
    heartbeat_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    call_id: Mapped[str | None] = mapped_column(String(36))
    # 研修モード: the console takes only training calls (and no real one) while it is on.
    training: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class StaffingGap(Base):
    """A stretch of opening hours in which a site's windows could reach no operator."""

    __tablename__ = "staffing_gap"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[str] = mapped_column(String(63), index=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class SupportCase(Base):
    """A resident helped directly by the on-site support staff (channel = support staff)."""

    __tablename__ = "support_case"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[str] = mapped_column(String(63), index=True)
    kiosk_id: Mapped[str | None] = mapped_column(String(63))
    procedure: Mapped[str] = mapped_column(String(32))
    outcome: Mapped[str] = mapped_column(String(16))
    outcome_reason: Mapped[str | None] = mapped_column(String(32))
    recorded_by: Mapped[int | None] = mapped_column(
        ForeignKey("staff_user.id", ondelete="SET NULL")
    )
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class CallInvite(Base):
    """A single-use, time-limited link for a third party (interpreter, family member) to join
    a call with audio and video only. Only the token's SHA-256 is stored."""

    __tablename__ = "call_invite"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    call_id: Mapped[str] = mapped_column(String(36), index=True)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class CallSignal(Base):
    """Signaling between the operator's console and a guest, relayed through the database so
    the two sockets may be served by different replicas; deleted when the call ends."""

    __tablename__ = "call_signal"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    call_id: Mapped[str] = mapped_column(String(36), index=True)
    recipient: Mapped[str] = mapped_column(String(16))  # operator | guest
    kind: Mapped[str] = mapped_column(String(16))  # joined | offer | answer | left
    sdp: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
