"""The control plane. Imports `protocol` and nothing of `edge`.

Organised by domain: `auth/` (staff accounts and tokens), `fleet/` (kiosk registry and the
MQTT consumer), `ui/` (web pages), `calendar/` (opening days and hours), `db/` (engine and
migrations). `app.create_app(settings)` wires them together.
"""
