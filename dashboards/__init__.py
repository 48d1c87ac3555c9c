"""Grafana dashboards as code, built from the metric names in `protocol.v1.metrics`."""
