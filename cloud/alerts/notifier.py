"""Alert notifications to a webhook (a chat incoming-webhook, or any JSON receiver).

The body carries `text` (what chat services display) and the structured fields. A failed
delivery is retried at the next evaluation: the alert keeps its `notified_*` flag false.
"""

from __future__ import annotations

import httpx
import structlog

from cloud.alerts.models import Alert

log = structlog.get_logger("cloud.alerts")


def payload(alert: Alert, *, event: str) -> dict[str, object]:
    mark = (
        "🔴"
        if event == "firing" and alert.severity == "critical"
        else ("🟠" if event == "firing" else "✅")
    )
    verb = "発生" if event == "firing" else "復旧"
    return {
        "text": f"{mark} [{verb}] {alert.kiosk_id}（{alert.site_id}）: {alert.detail}",
        "event": event,
        "kind": alert.kind,
        "severity": alert.severity,
        "kiosk_id": alert.kiosk_id,
        "site_id": alert.site_id,
        "opened_at": alert.opened_at.isoformat(),
        "resolved_at": alert.resolved_at.isoformat() if alert.resolved_at else None,
    }


class WebhookNotifier:
    def __init__(self, url: str | None, *, timeout_s: float = 5.0) -> None:
        self._url = url
        self._timeout_s = timeout_s

    @property
    def enabled(self) -> bool:
        return bool(self._url)

    async def send(self, alert: Alert, *, event: str) -> bool:
        if not self._url:
            return True  # nothing configured: nothing to retry
        try:
            async with httpx.AsyncClient(timeout=self._timeout_s) as client:
                response = await client.post(self._url, json=payload(alert, event=event))
            response.raise_for_status()
        except httpx.HTTPError as exc:
            log.warning(
                "webhook_failed", kind=alert.kind, kiosk_id=alert.kiosk_id, error=type(exc).__name__
            )
            return False
        return True
