"""A typed CallbackContext: handlers reach Sahut's services without casts."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from telegram.ext import Application, CallbackContext, ContextTypes, ExtBot

if TYPE_CHECKING:
    from bot.telegram_app import TelegramRuntime


class BotContext(CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], dict[Any, Any]]):
    """The context every PTB callback of Sahut receives."""

    def __init__(self, application: Application[Any, Any, Any, Any, Any, Any],
                 chat_id: int | None = None, user_id: int | None = None) -> None:
        super().__init__(application=application, chat_id=chat_id, user_id=user_id)

    @property
    def runtime(self) -> TelegramRuntime:
        """Services, dispatcher and outbox sender, set once when the application is built."""
        runtime: TelegramRuntime = self.bot_data["runtime"]
        return runtime


CONTEXT_TYPES = ContextTypes(context=BotContext)
