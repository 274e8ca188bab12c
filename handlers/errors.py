"""The one error handler: log once with context, tell the user in their language."""

from __future__ import annotations

import logging

from telegram import Chat, Update
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from handlers.services import services
from locales import t

log = logging.getLogger(__name__)


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Log the error with the update's id and type (never who sent it), then apologise."""
    kind = type(update).__name__ if update is not None else "no update"
    update_id = update.update_id if isinstance(update, Update) else None
    log.error("error while handling %s %s", kind, update_id, exc_info=context.error)
    if not isinstance(update, Update) or update.effective_chat is None \
            or update.effective_chat.type != Chat.PRIVATE:
        return
    locale = None
    if update.effective_user is not None:
        user = await services(context).users.get(update.effective_user.id)
        locale = user.locale if user else None
    if update.callback_query is not None:
        try:
            await update.callback_query.answer()
        except TelegramError as exc:  # answered already: the apology below still goes
            log.debug("callback query not answered: %s", exc)
    try:
        await update.effective_chat.send_message(t(locale, "error.generic"))
    except TelegramError as exc:
        log.warning("could not tell the user about the error: %s", exc)

