"""The FastAPI application and its lifespan: migrations, database, MQTT consumer."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from cloud import health
from cloud.alerts.evaluator import AlertEvaluator
from cloud.alerts.notifier import WebhookNotifier
from cloud.alerts.views import router as alerts_router
from cloud.attendance.views import router as attendance_router
from cloud.audit.chain import AuditSealer
from cloud.auth.ratelimit import LoginLimiter
from cloud.auth.views import router as auth_router
from cloud.calendar.lookup import OpeningHours
from cloud.calendar.views import router as calendar_router
from cloud.db.engine import make_engine, make_sessionmaker
from cloud.db.migrate import upgrade
from cloud.enrollment.views import router as enrollment_router
from cloud.fleet.consumer import FleetConsumer
from cloud.fleet.metrics import ConsumerMetrics
from cloud.fleet.summaries import HealthSummaries
from cloud.fleet.timeseries import TelemetryWriter
from cloud.fleet.uptime import UptimeRecorder
from cloud.fleet.views import router as fleet_router
from cloud.inspections.views import router as inspections_router
from cloud.maintenance.dispatcher import CommandDispatcher
from cloud.maintenance.views import router as maintenance_router
from cloud.manuals.views import page_router as manuals_page_router
from cloud.manuals.views import router as manuals_router
from cloud.organisation.views import pages as organisation_pages
from cloud.organisation.views import router as organisation_router
from cloud.privacy.pages import router as privacy_pages_router
from cloud.privacy.publisher import ConsentConfigSync
from cloud.privacy.purge import PurgeJob
from cloud.privacy.views import router as privacy_router
from cloud.reports.approval_views import router as approval_router
from cloud.reports.views import monthly_router
from cloud.reports.views import router as reports_router
from cloud.routing.hub import RoutingHub
from cloud.routing.metrics import RoutingRecorder
from cloud.routing.publisher import CallPublisher
from cloud.routing.router import CallRouter
from cloud.routing.views import router as routing_router
from cloud.security import install_csrf_guard, install_security_headers
from cloud.settings import CloudSettings
from cloud.shifts.pages import router as shifts_pages_router
from cloud.shifts.views import router as shifts_router
from cloud.site_checks.views import router as site_checks_router
from cloud.sites.views import router as sites_router
from cloud.ui.views import router as ui_router
from cloud.ui.views import static_files


def create_app(settings: CloudSettings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(settings.database_url)
        await upgrade(engine)
        app.state.engine = engine
        app.state.sessions = make_sessionmaker(engine)
        app.state.consumer = None
        app.state.summaries = HealthSummaries(app.state.sessions)
        await app.state.summaries.load_sites()
        summaries_task = asyncio.create_task(app.state.summaries.run(), name="summaries")
        app.state.timeseries = None
        if settings.timeseries.enabled:
            app.state.timeseries = TelemetryWriter(settings.timeseries)
            app.state.timeseries.start()
        opening_hours = OpeningHours(sites_dir=settings.calendar.sites_dir)
        uptime_task: asyncio.Task[None] | None = None
        if app.state.timeseries is not None and settings.timeseries.uptime_minutes:
            app.state.uptime = UptimeRecorder(
                sessions=app.state.sessions,
                writer=app.state.timeseries,
                opening_hours=opening_hours,
            )
            uptime_task = asyncio.create_task(app.state.uptime.run(), name="uptime")
        app.state.alerts = AlertEvaluator(
            sessions=app.state.sessions,
            notifier=WebhookNotifier(settings.alerts.webhook_url),
            thresholds=settings.alerts.thresholds,
            interval_s=settings.alerts.interval_s,
            is_open=opening_hours,
        )
        alerts_task = (
            asyncio.create_task(app.state.alerts.run(), name="alerts")
            if settings.alerts.enabled
            else None
        )
        app.state.router = CallRouter(
            sessions=app.state.sessions,
            publisher=CallPublisher(None),
            hub=RoutingHub(),
            settings=settings.calls,
            opening_hours=opening_hours,
        )
        router_task = asyncio.create_task(app.state.router.run(), name="router")
        routing_metrics_task = (  # the queue and staffing, minute by minute, for Grafana
            asyncio.create_task(
                RoutingRecorder(
                    sessions=app.state.sessions,
                    writer=app.state.timeseries,
                    opening_hours=opening_hours,
                    stale_after=app.state.router.stale_after,
                ).run(),
                name="routing-metrics",
            )
            if app.state.timeseries is not None
            else None
        )
        sealer_task = asyncio.create_task(AuditSealer(app.state.sessions).run(), name="audit")
        purge_task = (
            asyncio.create_task(
                PurgeJob(
                    app.state.sessions,
                    retention=settings.privacy.retention,
                    interval_s=settings.privacy.purge_interval_s,
                    first_delay_s=settings.privacy.purge_first_delay_s,
                ).run(),
                name="purge",
            )
            if settings.privacy.purge_enabled
            else None
        )
        consent_task: asyncio.Task[None] | None = None
        app.state.consent_sync = None
        consumer_task: asyncio.Task[None] | None = None
        dispatcher_task: asyncio.Task[None] | None = None
        app.state.dispatcher = None
        if settings.mqtt.enabled:
            consumer = FleetConsumer(
                settings=settings.mqtt,
                sessions=app.state.sessions,
                metrics=app.state.metrics,
                summaries=app.state.summaries,
                timeseries=app.state.timeseries,
                calls=app.state.router,
            )
            app.state.router.publisher.link = consumer
            app.state.consumer = consumer
            consumer_task = asyncio.create_task(consumer.run(), name="mqtt-consumer")
            app.state.dispatcher = CommandDispatcher(sessions=app.state.sessions, link=consumer)
            dispatcher_task = asyncio.create_task(app.state.dispatcher.run(), name="dispatcher")
            app.state.consent_sync = ConsentConfigSync(
                app.state.sessions, consumer, interval_s=settings.privacy.consent_sync_s
            )
            consent_task = asyncio.create_task(app.state.consent_sync.run(), name="consent")
        try:
            yield
        finally:
            for task in (
                dispatcher_task,
                consumer_task,
                router_task,
                routing_metrics_task,
                sealer_task,
                purge_task,
                consent_task,
                summaries_task,
                alerts_task,
                uptime_task,
            ):
                if task is not None:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
            await app.state.summaries.close()
            if app.state.timeseries is not None:
                await app.state.timeseries.stop()
            await engine.dispose()

    app = FastAPI(
        title="madoguchi control plane",
        description="Remote counter kiosks for My Number Card procedures",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.login_limiter = LoginLimiter(settings.login_attempts_per_minute)
    install_security_headers(app, hsts=settings.cookie_secure)
    install_csrf_guard(app)
    app.state.registry = CollectorRegistry()
    app.state.metrics = ConsumerMetrics(app.state.registry)
    app.include_router(health.router)
    app.include_router(auth_router)
    app.include_router(fleet_router)
    app.include_router(maintenance_router)
    app.include_router(alerts_router)
    app.include_router(calendar_router)
    app.include_router(reports_router)
    app.include_router(monthly_router)
    app.include_router(approval_router)
    app.include_router(organisation_router)
    app.include_router(organisation_pages)
    app.include_router(routing_router)
    app.include_router(attendance_router)
    app.include_router(inspections_router)
    app.include_router(privacy_router)
    app.include_router(privacy_pages_router)
    app.include_router(manuals_router)
    app.include_router(manuals_page_router)
    app.include_router(shifts_router)
    app.include_router(enrollment_router)
    app.include_router(site_checks_router)
    app.include_router(sites_router)
    app.include_router(shifts_pages_router)
    app.include_router(ui_router)
    app.mount("/static", static_files(), name="static")
    return app
