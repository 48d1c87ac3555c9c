"""The application ID (申請書ID) in a decoded 2D code: pure extraction and validation.

The ID is 23 ASCII digits. What the form's code holds exactly is not published (see
docs/forms.md), so two shapes are accepted and nothing else:

- the 23 digits on their own (surrounding whitespace allowed);
- an http(s) URL on an allow-listed host of the card-application site whose path and query,
  percent-decoded, hold exactly one run of exactly 23 digits.

No check-digit scheme is published for the ID, so none is applied: a wrong digit can only be
caught by the application site itself.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final
from urllib.parse import unquote, urlsplit

from edge.forms.errors import FormReadError

APPLICATION_ID_LENGTH: Final = 23
# ASCII only: str.isdigit() and \d would also accept full-width and other scripts' digits.
_BARE_ID = re.compile(r"[0-9]{23}")
_DIGIT_RUN = re.compile(r"[0-9]+")
# The J-LIS card-application sites (online application and the card portal).
ALLOWED_HOSTS: Final = frozenset(
    {"net.kojinbango-card.go.jp", "www.kojinbango-card.go.jp", "kojinbango-card.go.jp"}
)
# A QR code holds at most ~7 000 digits; anything this long is not a form's code.
_MAX_PAYLOAD = 2048


def is_application_id(value: str) -> bool:
    """Exactly 23 ASCII digits, nothing else."""
    return _BARE_ID.fullmatch(value) is not None


def extract_application_id(payload: str, *, allowed_hosts: Iterable[str] = ALLOWED_HOSTS) -> str:
    """The application ID held by a decoded code, or `FormReadError` (`not_application_id`,
    or `multiple_ids` when a URL carries more than one candidate)."""
    text = payload.strip()
    if len(text) > _MAX_PAYLOAD:
        raise FormReadError("not_application_id")
    if is_application_id(text):
        return text
    if not text.lower().startswith(("https://", "http://")):
        raise FormReadError("not_application_id")
    try:
        parts = urlsplit(text)
        host = parts.hostname
        _ = parts.port  # raises ValueError on a malformed port
    except ValueError as exc:
        raise FormReadError("not_application_id") from exc
    # user:pass@host is a classic way to dress another host up as an allowed one.
    if host is None or parts.username is not None or parts.password is not None:
        raise FormReadError("not_application_id")
    if host.lower().rstrip(".") not in {h.lower() for h in allowed_hosts}:
        raise FormReadError("not_application_id")
    runs: list[str] = _DIGIT_RUN.findall(unquote(parts.path) + "\n" + unquote(parts.query))
    candidates = [run for run in runs if len(run) == APPLICATION_ID_LENGTH]
    if len(candidates) > 1:
        raise FormReadError("multiple_ids")
    if not candidates:
        raise FormReadError("not_application_id")
    return str(candidates[0])
