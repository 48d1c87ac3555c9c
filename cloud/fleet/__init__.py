"""The kiosk registry, fed by the MQTT consumer."""
