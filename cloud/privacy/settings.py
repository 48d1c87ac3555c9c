"""Retention periods per record type, and the purge job's schedule (configuration).

Defaults, and why:

- Records the monthly report and the bill are built from (calls, support cases, support
  attendance, inspections, incidents, closures, staffing gaps, kiosk state changes and
  events) and the audit log: **5 years** (1,827 days). A city keeps contract, accounting and
  performance records at least five years (public records practice for 会計・契約関係文書;
  the Local Autonomy Act's five-year limitation on claims), so a report or a bill can be
  re-derived and checked for as long as it can be disputed.
- Agent rollouts: 5 years too, as the record of changes made to the city's equipment.
- Command results and alerts (maintenance history, not used by the reports): **400 days**,
  one year back plus a margin to compare with the same month last year.
- Log bundles collected from kiosks: **90 days** (redacted on the kiosk, but free text).
- Screenshots of kiosk screens: **7 days** — the most sensitive record the control plane
  holds (never taken during a session, yet still a picture of a public screen); a week is
  enough to look at a fault report.
- Call invites (single-use links) 30 days after they expired, call signaling 1 day (normally
  deleted when the call ends), session tokens 30 days after they expired.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

FIVE_YEARS = 1827


class RetentionSettings(BaseModel):
    """Days a record is kept, counted from the time named in the data inventory."""

    call: int = Field(FIVE_YEARS, ge=1)
    support_case: int = Field(FIVE_YEARS, ge=1)
    support_attendance: int = Field(FIVE_YEARS, ge=1)
    inspection: int = Field(FIVE_YEARS, ge=1)
    incident: int = Field(FIVE_YEARS, ge=1)
    site_closure: int = Field(FIVE_YEARS, ge=1)
    staffing_gap: int = Field(FIVE_YEARS, ge=1)
    kiosk_state_change: int = Field(FIVE_YEARS, ge=1)
    kiosk_event: int = Field(FIVE_YEARS, ge=1)
    audit_entry: int = Field(FIVE_YEARS, ge=1)
    rollout: int = Field(FIVE_YEARS, ge=1)
    kiosk_command: int = Field(400, ge=1)
    alert: int = Field(400, ge=1)
    kiosk_log_bundle: int = Field(90, ge=1)
    kiosk_screenshot: int = Field(7, ge=1)
    call_invite: int = Field(30, ge=1)
    call_signal: int = Field(1, ge=1)
    api_token: int = Field(30, ge=1)


class PrivacySettings(BaseModel):
    retention: RetentionSettings = RetentionSettings()
    purge_enabled: bool = Field(True, description="Run the purge job inside the control plane")
    purge_interval_s: float = Field(6 * 3600, gt=0, description="Between two purge runs")
    purge_first_delay_s: float = Field(
        300, ge=0, description="After start-up, before the first run"
    )
    consent_sync_s: float = Field(
        60, gt=0, description="How often kiosks are checked for the current consent versions"
    )
