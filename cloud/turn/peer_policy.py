"""Which peer addresses the TURN relay must never reach.

A relay that forwards to private, loopback or link-local addresses lets anyone holding a
credential reach the control plane's own network from outside (the coturn SSRF class of
attacks). The Ansible coturn role's defaults list the same ranges; a test keeps them equal.
Ranges are in coturn's `first-last` form: coturn 4.6 does not read CIDR in
`denied-peer-ip`.
"""

from __future__ import annotations

import ipaddress

# (CIDR for humans and tests, as documented by IANA's special-purpose registries)
DENIED_PEER_NETWORKS: tuple[str, ...] = (
    "0.0.0.0/8",  # "this network"
    "10.0.0.0/8",  # private
    "100.64.0.0/10",  # carrier-grade NAT
    "127.0.0.0/8",  # loopback
    "169.254.0.0/16",  # link-local (cloud metadata services live here)
    "172.16.0.0/12",  # private
    "192.0.0.0/24",  # IETF protocol assignments
    "192.0.2.0/24",  # documentation
    "192.88.99.0/24",  # 6to4 relay anycast
    "192.168.0.0/16",  # private
    "198.18.0.0/15",  # benchmarking
    "198.51.100.0/24",  # documentation
    "203.0.113.0/24",  # documentation
    "240.0.0.0/4",  # reserved, and 255.255.255.255
    "::/128",  # unspecified
    "::1/128",  # loopback
    "::ffff:0:0/96",  # IPv4-mapped: would smuggle the IPv4 ranges above
    "64:ff9b::/96",  # NAT64: same
    "100::/64",  # discard
    "2001::/23",  # IETF protocol assignments
    "2001:db8::/32",  # documentation
    "fc00::/7",  # unique local
    "fe80::/10",  # link-local
)


def coturn_range(network: str) -> str:
    """`10.0.0.0/8` -> `10.0.0.0-10.255.255.255` (a single address alone), as coturn reads."""
    parsed = ipaddress.ip_network(network)
    if parsed.num_addresses == 1:
        return str(parsed.network_address)
    return f"{parsed.network_address}-{parsed.broadcast_address}"


def denied_peer_ranges() -> list[str]:
    return [coturn_range(network) for network in DENIED_PEER_NETWORKS]
