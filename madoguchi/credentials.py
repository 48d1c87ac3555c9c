"""The CLI's saved control-plane URL and token (mode 0600)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Credentials:
    url: str
    token: str


def credentials_path() -> Path:
    explicit = os.environ.get("MADOGUCHI_CREDENTIALS")
    if explicit:
        return Path(explicit)
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "madoguchi" / "credentials.json"


def save(credentials: Credentials, path: Path | None = None) -> Path:
    target = path or credentials_path()
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # a file that existed before keeps its mode otherwise
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump({"url": credentials.url, "token": credentials.token}, handle)
    return target


def load() -> Credentials | None:
    """Environment first (`MADOGUCHI_URL` + `MADOGUCHI_TOKEN`), then the saved file."""
    url, token = os.environ.get("MADOGUCHI_URL"), os.environ.get("MADOGUCHI_TOKEN")
    if url and token:
        return Credentials(url, token)
    try:
        data = json.loads(credentials_path().read_text(encoding="utf-8"))
        return Credentials(str(data["url"]), str(data["token"]))
    except (OSError, ValueError, KeyError):
        return None
