"""`madoguchi card …`: the kiosk's card reader, as the operator sees it.

`madoguchi card status` reads the reader once (reader, card kind, PIN tries left, message);
`--watch` keeps printing a line per change until interrupted. The PC/SC service is found the
usual way; set `PCSCLITE_CSOCK_NAME` to use a private pcscd (tests, demo). Exit status of a
single read: 0 with a reader, 1 without one or when pcscd does not answer.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from protocol.v1.card import CardState

app = typer.Typer(help="The card reader (PC/SC).", no_args_is_help=True)

_READER_JA = {"present": "接続あり", "absent": "未接続", "service_unavailable": "サービス停止"}
_CARD_JA = {
    "none": "なし",
    "mynumber": "マイナンバーカード",
    "other": "マイナンバーカード以外",
    "mute": "応答なし",
    "unknown": "不明",
}


def _tries(value: int | None) -> str:
    return "不明" if value is None else f"{value}回"


def _render(state: CardState, *, as_json: bool) -> str:
    if as_json:
        return state.model_dump_json()
    lines = [
        f"カードリーダー: {_READER_JA[state.reader]}"
        + (f" ({state.reader_name})" if state.reader_name else ""),
        f"カード: {_CARD_JA[state.card]}",
    ]
    if state.card == "mynumber":
        lines.append(f"利用者証明用暗証番号の残り回数: {_tries(state.user_auth_pin_tries)}")
        lines.append(
            f"券面事項入力補助用暗証番号の残り回数: {_tries(state.input_support_pin_tries)}"
        )
    lines.append(state.message_ja)
    return "\n".join(lines)


@app.command("status")
def status_command(
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per state")] = False,
    reader: Annotated[
        str | None, typer.Option("--reader", help="Use the reader whose name contains this")
    ] = None,
    watch: Annotated[bool, typer.Option("--watch", help="Print every change until Ctrl-C")] = False,
    count: Annotated[
        int | None,
        typer.Option("--count", min=1, help="With --watch: stop after this many states"),
    ] = None,
) -> None:
    """Show the card reader's state: reader, card, PIN tries left (never any card data)."""
    from edge.peripherals.card_reader import CardReader

    card_reader = CardReader(reader)
    if not watch:
        state = asyncio.run(card_reader.read_state())
        typer.echo(_render(state, as_json=as_json))
        raise typer.Exit(0 if state.reader == "present" else 1)

    async def stream() -> None:
        seen = 0
        async for state in card_reader.watch():
            typer.echo(_render(state, as_json=as_json) + ("" if as_json else "\n"))
            seen += 1
            if count is not None and seen >= count:
                return

    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C ends --watch quietly
        asyncio.run(stream())
