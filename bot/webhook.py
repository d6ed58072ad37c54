"""Webhook mode: a Starlette app served by uvicorn (the PTB custom-webhook pattern).

``POST /telegram`` checks the secret header in constant time and handles the update before
answering 200, so an update is only acknowledged once its effects are committed; Telegram
redelivers anything unacknowledged and the update log makes the redelivery a no-op.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import func, select, text
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from telegram import Update
from telegram.ext import Application

from bot.config import Config
from bot.services import Services, build_services
from bot.telegram_app import build_application, start_background, stop_background
from db.models import OutboxRow, state_is

log = logging.getLogger(__name__)
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_BODY_BYTES = 1_000_000
WEBHOOK_DB_RETRY_SECONDS = 2.0


def _queue_state(services: Services) -> dict[str, Any]:
    """Database reachability and the outbox backlog (depth and age of the oldest item)."""
    with services.session_factory() as session:
        session.execute(text("SELECT 1"))
        depth, oldest = session.execute(
            select(func.count(), func.min(OutboxRow.created_at))
            .where(state_is(OutboxRow.state, "pending", "sending"))
        ).one()
    lag = 0.0
    if oldest is not None:
        created = oldest if oldest.tzinfo else oldest.replace(tzinfo=services.clock().tzinfo)
        lag = max(0.0, (services.clock() - created).total_seconds())
    return {"depth": int(depth or 0), "lag_seconds": round(lag, 3)}


def build_starlette(application: Application[Any, Any, Any, Any, Any, Any], services: Services,
                    secret: str, *, lifespan: Any = None) -> Starlette:
    """The ASGI app: /telegram, /healthz, /metrics."""
    expected = secret.encode()

    async def telegram(request: Request) -> Response:
        given = request.headers.get(SECRET_HEADER, "").encode()
        if not hmac.compare_digest(given, expected):
            return PlainTextResponse("forbidden", status_code=403)
        body = await request.body()
        if len(body) > MAX_BODY_BYTES:
            return PlainTextResponse("too large", status_code=413)
        try:
            data = json.loads(body)
            update = Update.de_json(data, application.bot)
        except (ValueError, TypeError, KeyError):
            services.metrics.inc("bad_updates_total")
            return PlainTextResponse("bad update", status_code=400)
        if update is None:
            return PlainTextResponse("bad update", status_code=400)
        await application.process_update(update)
        runtime = application.bot_data.get("runtime")
        if runtime is not None and update.update_id in runtime.unavailable:
            # Nothing was committed: do not acknowledge, Telegram delivers it again.
            runtime.unavailable.discard(update.update_id)
            services.metrics.inc("updates_deferred_total")
            return PlainTextResponse("database unavailable", status_code=503,
                                     headers={"Retry-After": "1"})
        return PlainTextResponse("ok")

    async def healthz(_: Request) -> Response:
        try:
            queue = await asyncio.to_thread(_queue_state, services)
        except Exception as exc:
            log.warning("health check failed: %s", type(exc).__name__)
            return JSONResponse({"status": "error", "database": "unreachable"},
                                status_code=503)
        return JSONResponse({"status": "ok", "database": "ok", "outbox": queue})

    async def metrics(_: Request) -> Response:
        try:
            queue = await asyncio.to_thread(_queue_state, services)
            services.metrics.set_gauge("outbox_depth", queue["depth"])
            services.metrics.set_gauge("outbox_lag_seconds", queue["lag_seconds"])
        except Exception:
            log.warning("metrics: database unreachable")
        return PlainTextResponse(services.metrics.render(),
                                 media_type="text/plain; version=0.0.4")

    return Starlette(routes=[
        Route("/telegram", telegram, methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
    ], lifespan=lifespan)


def parse_listen(listen: str) -> tuple[str, int]:
    """``HOST:PORT`` → (host, port)."""
    host, _, port = listen.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"--listen must be HOST:PORT, got {listen!r}")
    return host.strip("[]"), int(port)


def make_webhook_app(config: Config, services: Services, *, public_url: str | None,
                     request: Any = None) -> Starlette:
    """The ASGI app with the PTB application started and the webhook registered."""
    secret = config.telegram.webhook_secret
    if not secret:
        raise ValueError("TELEGRAM_WEBHOOK_SECRET is not set")
    application = build_application(config, services, request=request)
    # Behind a webhook an update is better answered 503 (Telegram redelivers it) than held.
    application.bot_data["runtime"].db_retry_seconds = WEBHOOK_DB_RETRY_SECONDS

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        async with application:
            await application.start()
            try:
                await start_background(application)
                if public_url:
                    await application.bot.set_webhook(
                        url=public_url.rstrip("/") + "/telegram", secret_token=secret,
                        allowed_updates=Update.ALL_TYPES)
                yield
            finally:
                await stop_background(application)  # the message in flight finishes first
                await application.stop()

    return build_starlette(application, services, secret, lifespan=lifespan)


def run_webhook(config: Config, *, listen: str, public_url: str | None) -> int:
    """``sahut run --webhook``: serve until SIGTERM, then drain and exit."""
    import uvicorn

    from db.migrate import SchemaOutOfDate

    try:
        host, port = parse_listen(listen)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if not public_url:
        print("error: --public-url is required in webhook mode (the HTTPS address Telegram "
              "calls, e.g. https://bot.example.go.id)", file=sys.stderr)
        return 1
    try:
        services = build_services(config)
    except SchemaOutOfDate as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    app = make_webhook_app(config, services, public_url=public_url)
    try:
        uvicorn.run(app, host=host, port=port, log_level="warning", lifespan="on")
    finally:
        services.dispose()
    return 0
