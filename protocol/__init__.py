"""The wire contract between kiosks and the cloud.

Only pydantic is imported here. `protocol.v1` is the current version; a future `v2` is a
sibling package, not a fork.
"""

from protocol.errors import ProtocolError, RejectReason

__all__ = ["ProtocolError", "RejectReason"]
