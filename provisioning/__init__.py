"""Fleet identity and broker credentials: the certificate authority, per-kiosk client
certificates, and the Mosquitto configuration and ACL generated from the topic contract."""
