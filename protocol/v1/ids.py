"""Identifier types shared by topics and messages."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import StringConstraints

# DNS-label shaped: lower-case letters, digits and inner hyphens. No dots, so a kiosk id can
# never equal the cloud's certificate name, and no MQTT wildcards or separators.
ID_PATTERN = r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$"
_ID_RE = re.compile(ID_PATTERN)

KioskId = Annotated[str, StringConstraints(pattern=ID_PATTERN)]
SiteId = Annotated[str, StringConstraints(pattern=ID_PATTERN)]


def is_valid_id(value: str) -> bool:
    """True when `value` may be used as a kiosk or site id."""
    return bool(_ID_RE.match(value))
