"""The connection test a pop-up site passes before it opens (the `site_check` command and
`madoguchi edge check`): broker over TLS with the kiosk's own certificate, round trip and
throughput to the control plane, TURN allocation, clock offset, and every peripheral's
self-test. Each item measures one thing against one limit; nothing personal is involved."""
