"""JSON Schema export, for readers of the messages outside Python."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import TypeAdapter

from protocol.v1.messages import ALL_MESSAGES, KioskMessage


def json_schemas() -> dict[str, dict[str, object]]:
    """File name -> JSON Schema: one per message type, plus the whole union."""
    schemas: dict[str, dict[str, object]] = {}
    for model in ALL_MESSAGES:
        name = model.model_fields["type"].default
        schemas[f"{name}.schema.json"] = model.model_json_schema(by_alias=True)
    union = TypeAdapter(KioskMessage).json_schema(by_alias=True)
    union["title"] = "KioskMessage"
    schemas["kiosk-message.schema.json"] = union
    return schemas


def write_json_schemas(out_dir: Path) -> list[Path]:
    """Write every schema into `out_dir`; returns the files written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for file_name, schema in json_schemas().items():
        path = out_dir / file_name
        path.write_text(json.dumps(schema, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        written.append(path)
    return written
