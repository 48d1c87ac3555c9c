"""The `madoguchi` command. Sub-commands live in `madoguchi/commands/`, one module per area;
heavy imports happen inside the commands so a kiosk without the cloud extra can still run
`madoguchi edge run`."""

from __future__ import annotations

import typer

from madoguchi.commands import (
    audit,
    bench,
    calendar,
    card,
    cloud,
    dashboards,
    demo,
    edge,
    enroll,
    form,
    kiosks,
    photo,
    privacy,
    protocol,
    provision,
    report,
    simulate,
    site,
    training,
)

app = typer.Typer(
    name="madoguchi",
    help="Remote counter kiosks for My Number Card procedures.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(protocol.app, name="protocol")
app.add_typer(provision.app, name="provision")
app.add_typer(edge.app, name="edge")
app.add_typer(cloud.app, name="cloud")
app.add_typer(kiosks.app, name="kiosks")
app.add_typer(calendar.app, name="calendar")
app.add_typer(report.app, name="report")
app.add_typer(audit.app, name="audit")
app.add_typer(privacy.app, name="privacy")
app.add_typer(dashboards.app, name="dashboards")
app.add_typer(bench.app, name="bench")
app.add_typer(form.app, name="form")
app.add_typer(card.app, name="card")
app.add_typer(photo.app, name="photo")
app.add_typer(training.app, name="training")
app.add_typer(site.app, name="site")
enroll.register(edge.app, kiosks.app)
app.command("demo")(demo.run_demo)
app.command("simulate")(simulate.simulate)
