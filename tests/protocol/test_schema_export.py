"""`madoguchi protocol schema --out DIR` writes schemas that validate real messages."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema

from protocol.v1 import StateMessage, encode
from protocol.v1.messages import utc_now


def test_schema_command_writes_schemas_that_accept_and_reject(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "madoguchi", "protocol", "schema", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    written = {Path(line).name for line in result.stdout.split()}
    assert {
        "state.schema.json",
        "telemetry.schema.json",
        "cmd.schema.json",
        "cmd_result.schema.json",
        "config.schema.json",
        "event.schema.json",
        "call.schema.json",
        "kiosk-message.schema.json",
    } <= written

    union = json.loads((tmp_path / "kiosk-message.schema.json").read_text())
    birth = json.loads(
        encode(
            StateMessage(
                kiosk_id="k1",
                sent_at=utc_now(),
                seq=1,
                status="online",
                bd_seq=1,
                site_id="city-hall",
                agent_version="1",
                os_version="x",
            )
        )
    )
    jsonschema.validate(birth, union)
    jsonschema.validate(birth, json.loads((tmp_path / "state.schema.json").read_text()))
    birth["surprise"] = True
    try:
        jsonschema.validate(birth, union)
    except jsonschema.ValidationError:
        pass
    else:
        raise AssertionError("the schema accepted an unknown field")
