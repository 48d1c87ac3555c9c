"""The data inventory: what is stored where, and for how long.

Generated from the models (`Base.metadata`: every table and its columns) and the retention
configuration (the purge rules); each table also needs a line here saying what it holds and
whose data it is. A table without one is listed as undocumented (and a test fails).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from cloud.db.base import Base, import_all_models
from cloud.privacy.purge import RULES_BY_TABLE, retention_days
from cloud.privacy.settings import RetentionSettings

CONTROL_DB = "control-plane DB"
TIMESERIES = "time-series store"
KIOSK_RAM = "kiosk RAM session dir"
KIOSK_DISK = "kiosk disk queue"

NEVER_LEAVES_KIOSK = (
    "The resident's face photo, the application ID (申請書ID), the PIN and the card's data "
    "never leave the kiosk, except inside the encrypted call (WebRTC, DTLS-SRTP and the data "
    "channel) to the operator's screen, where they are shown and not stored. They are never "
    "written to the control plane's database, the time-series store, the logs or MQTT."
)
NEVER_LEAVES_KIOSK_JA = (
    "住民の顔写真・申請書ID・暗証番号・カードの情報は、暗号化された通話（WebRTC）でオペレーター"
    "の画面に表示される場合を除き、端末の外に出ません。管理サーバーのデータベース・時系列データ・"
    "ログ・MQTT には一切記録されません。"
)

# Whose data a table holds: "none" (no personal data), "staff" (staff names and accounts).
# Resident personal data has no table: see NEVER_LEAVES_KIOSK.
TABLES: dict[str, tuple[str, str]] = {
    "call": ("Calls: kiosk, times, consent versions, procedure and outcome codes", "none"),
    "support_case": ("Residents helped on site: procedure and outcome codes only", "none"),
    "support_attendance": ("Days worked by support staff, per site (billing)", "staff"),
    "inspection": ("Weekly device inspections: checklist, result, notes", "staff"),
    "incident": ("Incidents and complaints: summary and prevention plan", "staff"),
    "site_closure": ("Closures recorded by city staff (storm, power cut)", "staff"),
    "staffing_gap": ("Opening hours in which no operator could be reached", "none"),
    "kiosk_state_change": ("Kiosk online/offline transitions (uptime reports)", "none"),
    "kiosk_event": ("Kiosk events: peripheral changes, errors (no card data)", "none"),
    "kiosk_command": ("Maintenance commands, who issued them, and their results", "staff"),
    "kiosk_log_bundle": ("Agent log lines collected on request (redacted on the kiosk)", "none"),
    "kiosk_screenshot": ("Kiosk screens taken outside sessions (JPEG)", "none"),
    "alert": ("Alerts: kiosk, kind, times", "none"),
    "rollout": ("Agent version rollouts", "staff"),
    "rollout_target": ("Kiosks of a rollout (deleted with it)", "none"),
    "call_invite": ("Single-use links for an interpreter (token hash only)", "none"),
    "call_signal": ("Signaling between console and guest (deleted when the call ends)", "none"),
    "api_token": ("Staff session tokens (SHA-256 only)", "staff"),
    "staff_recovery_code": ("TOTP recovery codes (argon2 hashes only), when used", "staff"),
    "audit_entry": ("The audit log: who did what, when (hash-chained)", "staff"),
    "audit_anchor": ("Where the audit chain resumes after a purge (one row)", "none"),
    "kiosk": ("Kiosks: ids, versions, host health, peripherals", "none"),
    "staff_user": ("Staff accounts: username, display name, role, password hash", "staff"),
    "operator_presence": ("Operators' current presence (one row per operator)", "staff"),
    "consent_document": ("Terms of use and privacy policy versions (texts)", "none"),
    "manual_version": ("Operator manual versions: scripts and FAQ, review trail", "staff"),
    "org_position": ("Staff positions and business contact numbers (emergency chain)", "staff"),
    "report_approval": ("Monthly report submissions, approvals and invoice numbers", "staff"),
    "report_approval_event": ("Each step of a monthly report's approval", "staff"),
    "shift": ("Staff shifts: who is on duty where and when", "staff"),
    "enrollment_token": ("One-time kiosk enrollment tokens (SHA-256 only), who made them", "staff"),
    "kiosk_certificate": ("Certificates issued to kiosks: serial, validity, revocation", "staff"),
    "kiosk_identity": (
        "Each kiosk's enrollment state (enrolled, revoked, decommissioned)",
        "staff",
    ),
    "site": ("Registered sites: file, lifecycle state, who created them", "staff"),
    "site_kiosk": ("Which kiosk belongs to which registered site", "none"),
    "site_event": ("Each site's lifecycle steps, who made them", "staff"),
    "site_check_run": ("Site connection tests: site, who started them, when", "staff"),
    "site_check_kiosk": ("Each kiosk's connection-test report (probe token SHA-256)", "none"),
}
# Tables the purge leaves alone, and why (how long they are kept instead).
KEPT: dict[str, str] = {
    "kiosk": "while the kiosk is in the fleet (current state, one row per kiosk)",
    "staff_user": "while the account exists; disabled by an admin, kept for the records it signs",
    "staff_recovery_code": "until replaced by a new set or the second factor is reset",
    "operator_presence": "current state only (one row per operator, overwritten)",
    "consent_document": "indefinitely: the proof of what residents consented to",
    "audit_anchor": "one row, overwritten by each purge",
    "rollout_target": "as long as its rollout",
    "manual_version": "indefinitely: versions are the manual's revision history",
    "org_position": "while the staff member holds the position (overwritten, deleted with it)",
    "report_approval": "indefinitely: approved reports and invoices are public records",
    "report_approval_event": "as long as its report approval",
    "shift": "not purged yet (no retention rule configured for shifts)",
    "enrollment_token": "not purged yet: a few rows per kiosk (expired tokens are harmless)",
    "kiosk_certificate": "while the kiosk is in the fleet: the CRL is built from these rows",
    "kiosk_identity": "while the kiosk is in the fleet (one row per kiosk, overwritten)",
    "site": "indefinitely: a decommissioned site is kept as a record",
    "site_kiosk": "as long as its site",
    "site_event": "as long as its site (the lifecycle record)",
    "site_check_run": "not purged yet: kept with the site as the record it opened on",
    "site_check_kiosk": "as long as its run",
}
# Stores outside the database.
OTHER_STORES: tuple[dict[str, str], ...] = (
    {
        "where": TIMESERIES,
        "what": "Kiosk telemetry (CPU, memory, disk, network, call quality) and uptime minutes",
        "personal_data": "none",
        "retention": "the store's own retention setting (bucket / -retentionPeriod); "
        "set it to at least 400 days for year-on-year comparisons",
    },
    {
        "where": KIOSK_RAM,
        "what": "The session's face photo and scanned form, in tmpfs (/dev/shm), "
        "private to the agent",
        "personal_data": "resident",
        "retention": "wiped at the end of each session and at agent start-up; never on disk",
    },
    {
        "where": KIOSK_DISK,
        "what": "Telemetry, events and command results waiting while the broker is unreachable",
        "personal_data": "none",
        "retention": "deleted once the broker acknowledges them; telemetry older than "
        "telemetry_ttl_s (7 days) dropped; bounded by disk_queue_max_rows",
    },
)


@dataclass(frozen=True, slots=True)
class TableEntry:
    table: str
    where: str
    description: str
    personal_data: str  # none | staff
    columns: list[str]
    retention_days: int | None  # None: not purged (see `kept`)
    counted_from: str | None
    kept_regardless: str
    kept: str
    documented: bool


def inventory(retention: RetentionSettings) -> dict[str, object]:
    import_all_models()
    tables = []
    for name, table in sorted(Base.metadata.tables.items()):
        description, personal = TABLES.get(name, ("", "unknown"))
        rule = RULES_BY_TABLE.get(name)
        tables.append(
            TableEntry(
                table=name,
                where=CONTROL_DB,
                description=description,
                personal_data=personal,
                columns=[column.name for column in table.columns],
                retention_days=retention_days(retention, rule) if rule else None,
                counted_from=rule.counted_from_label if rule else None,
                kept_regardless=rule.keep_label if rule else "",
                kept=KEPT.get(name, ""),
                documented=name in TABLES and (rule is not None or name in KEPT),
            )
        )
    return {
        "never_leaves_kiosk": NEVER_LEAVES_KIOSK,
        "never_leaves_kiosk_ja": NEVER_LEAVES_KIOSK_JA,
        "tables": [asdict(entry) for entry in tables],
        "other_stores": list(OTHER_STORES),
    }
