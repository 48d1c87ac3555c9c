"""`madoguchi photo …`: the face-photo compliance check and the 35:45 crop.

Exit status: 0 compliant (and, with --fix, the JPEG written); 1 not compliant or cannot be
fixed by cropping; 2 the file is unreadable, not an image or too large.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(help="Face photo for the card application.", no_args_is_help=True)


@app.command("check")
def check(
    image: Annotated[Path, typer.Argument(help="The photo (JPEG, PNG, …)")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON")] = False,
    fix_out: Annotated[
        Path | None,
        typer.Option(
            "--fix", help="Write the cropped 35:45 JPEG here when it can be made compliant"
        ),
    ] = None,
) -> None:
    """Check a photo against the card application's rules; --fix crops it to the format."""
    from edge.images import ImageError, load_image
    from edge.photo import PhotoError, check_file, fix

    try:
        report = check_file(image)
        fixed: bytes | None = None
        fix_error: PhotoError | None = None
        if fix_out is not None:
            try:
                fixed, fixed_report = fix(load_image(image))
                if not fixed_report.ok:
                    fix_error = PhotoError(
                        fixed_report.problems[0].code, fixed_report.problems[0].message_ja
                    )
                    fixed = None
            except PhotoError as exc:
                fix_error = exc
    except ImageError as exc:
        if as_json:
            typer.echo(
                json.dumps(
                    {
                        "ok": False,
                        "error": exc.code,
                        "message_ja": exc.message_ja,
                        "message": str(exc),
                    },
                    ensure_ascii=False,
                )
            )
        else:
            typer.echo(f"{exc.message_ja}: {exc}", err=True)
        raise typer.Exit(2) from None

    payload = report.model_dump(mode="json")
    if fix_out is not None:
        if fixed is not None:
            fix_out.write_bytes(fixed)
            payload["fixed"] = {"path": str(fix_out), "bytes": len(fixed)}
        else:
            assert fix_error is not None
            payload["fixed"] = {"error": fix_error.code, "message_ja": fix_error.message_ja}
    if as_json:
        typer.echo(json.dumps(payload, ensure_ascii=False))
    else:
        typer.echo(f"{'OK' if report.ok else 'NG'} {report.width}x{report.height}")
        for item in report.problems:
            extra = f" ({item.value} / {item.limit})" if item.value is not None else ""
            typer.echo(f"- {item.code}: {item.message_ja}{extra}")
        if fix_out is not None:
            if fixed is not None:
                typer.echo(f"fixed: {fix_out} ({len(fixed)} bytes)")
            else:
                assert fix_error is not None
                typer.echo(f"fix failed: {fix_error.code}: {fix_error.message_ja}", err=True)
    succeeded = fixed is not None if fix_out is not None else report.ok
    raise typer.Exit(0 if succeeded else 1)
