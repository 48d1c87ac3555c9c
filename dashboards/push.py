"""Push the dashboards to a running Grafana (grafana-client)."""

from __future__ import annotations

from grafana_client.api import GrafanaApi

from dashboards.build import DASHBOARDS, dashboard_json


def push(url: str, token: str, *, folder_uid: str | None = None) -> list[str]:
    """Create or update every dashboard; returns their uids."""
    api = GrafanaApi.from_url(url=url, credential=token)
    uids = []
    for name in DASHBOARDS:
        board = dashboard_json(name)
        body: dict[str, object] = {"dashboard": board, "overwrite": True}
        if folder_uid:
            body["folderUid"] = folder_uid
        api.dashboard.update_dashboard(body)
        uids.append(str(board["uid"]))
    return uids
