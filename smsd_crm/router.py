"""The inbound pipeline: store and dedupe -> route to a plugin -> reply into the outbox -> events.

``accept`` is the modem layer's sink: it returns once the message is committed,
so the modem may delete its copy. Routing happens afterwards, one message at a
time, from the database: after a crash, rows still ``received`` are routed on
start. A message's handled mark, its reply row and the plugin's own writes
commit in one transaction, so each stored message is answered exactly once.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import re
import time
from datetime import datetime, timedelta
from typing import Callable, Collection

from rapidfuzz import fuzz

from . import phones
from .config import Settings
from .context import REPLY_PARTS, handling_message
from .errors import PluginError, StorageUnavailable
from .events import MessageHandled, MessageReceived
from .i18n import Speaker
from .masking import Masker
from .models import InboundMessage, Message, Product, Reply, SmsQueue
from .plugins import PluginHost
from .storage import catalog as catalog_queries
from .storage import conversations as conversation_queries
from .storage import customers as customer_queries
from .storage import messages as queries
from .storage.db import Database
from .understanding import senders
from .understanding.grammar import split_keyword
from .understanding.intent import Reader, Reading
from .understanding.lexicon import Lexicon

LOGGER = logging.getLogger(__name__)
FLOOD = "core:flood"
CATALOGUE_TTL = 5.0  # seconds the reader's copy of the product names is kept
OVER_BUDGET = "over budget"  # last_error of a message whose "not understood" reply was not sent
ECHO_MIN = 20  # characters (letters and digits) a text needs to be recognised as an echo
ECHO_SIMILAR = 90.0  # how alike (rapidfuzz ratio) an echo and the shop's text are at least
ECHO = "echo"  # last_error of a message that was the shop's own text sent back
OVER_CAP = "over reply cap"  # last_error of a message not answered: flood.replies_per_hour reached
REPEATED = "repeated"  # last_error of a message whose text was just answered


class Router:
    """Stores inbound SMS and routes them to plugins."""

    def __init__(self, db: Database, host: PluginHost, settings: Settings,
                 outbox: SmsQueue, clock: Callable[[], datetime],
                 lexicon: Lexicon | None = None, masker: Masker | None = None) -> None:
        self._db = db
        self._masker = masker or host.masker()
        self._reader = Reader(host.keyword_table, lexicon or settings.texting.lexicon())
        self._products: list[Product] | None = None
        self._products_at = 0.0
        self._host = host
        self._settings = settings
        self._outbox = outbox
        self._clock = clock
        self._queue: asyncio.Queue[int] = asyncio.Queue()
        # The real text of messages stored masked (an owner command's PIN), until they are routed; only
        # the plugin whose command declares the secret reads it. Kept in memory only: after a crash the
        # plugin sees the mask and asks for the command again.
        self._secrets: dict[int, str] = {}

    async def accept(self, msg: InboundMessage) -> None:
        """Commit an inbound SMS (a duplicate is dropped) and queue it for routing."""
        region = self._settings.store.country
        unanswerable = senders.why_not(msg.sender, alphanumeric=msg.sender_is_alphanumeric,
                                       type_of_number=msg.sender_type_of_number, region=region)
        phone = None if unanswerable else phones.normalize(msg.sender, region)  # None: stored, never answered
        original = msg.text
        masked = None if msg.error or msg.binary else self._masker.mask(msg.text, phone)
        if masked is not None:  # neither the text nor the raw PDU may keep the PIN
            msg = dataclasses.replace(msg, text=masked, raw_pdus=())
        message_id = await queries.insert_inbound(self._db, msg, phone, self._clock())
        if message_id is None:
            LOGGER.info("duplicate SMS from %s on %s ignored", msg.sender, msg.modem_id)
            return
        if masked is not None:
            self._secrets[message_id] = original
        if msg.error:
            LOGGER.warning("SMS %d on %s could not be decoded; kept raw for staff: %s", message_id,
                           msg.modem_id, msg.error)
            return
        if msg.binary:
            LOGGER.info("SMS %d from %s is binary (8-bit data); stored, not answered", message_id, msg.sender)
            return
        LOGGER.info("SMS %d received from %s on %s%s", message_id, msg.sender, msg.modem_id,
                    f"; never answered: {unanswerable}" if unanswerable else "")
        self._queue.put_nowait(message_id)

    async def drain(self) -> None:
        """Route every message accepted so far, here and now (a test shop's step: no ``run`` task)."""
        while not self._queue.empty():
            await self.route(self._queue.get_nowait())

    async def run(self) -> None:
        """Route messages left over from the last run, then each new one, until cancelled."""
        for message_id in await queries.pending_inbound(self._db):
            self._queue.put_nowait(message_id)
        while True:
            message_id = await self._queue.get()
            try:
                await self.route(message_id)
            except StorageUnavailable:
                await self._after_outage()
            except Exception:  # never let one message stop the pipeline
                LOGGER.exception("routing message %d failed", message_id)

    async def _after_outage(self) -> None:
        """The database went away mid-message: what the message's transaction wrote rolled back (or
        committed just before the link went: ``route`` skips a message no longer ``received``). Once it
        answers, every message still ``received`` is routed again, oldest first, this one among them."""
        while True:
            await self._db.wait_reachable()
            try:
                pending = await queries.pending_inbound(self._db)
                break
            except StorageUnavailable:
                continue
        while not self._queue.empty():
            self._queue.get_nowait()
        for message_id in pending:
            self._queue.put_nowait(message_id)

    async def _catalogue(self) -> list[Product]:
        """The active products' names for the reader, re-read at most every ``CATALOGUE_TTL`` seconds
        (a catalogue import in another process is seen that much later; prices and stock are read by
        the plugins themselves)."""
        now = time.monotonic()
        if self._products is None or now - self._products_at > CATALOGUE_TTL:
            self._products = await catalog_queries.all_products(self._db, active_only=True)
            self._products_at = now
        return self._products

    async def _message(self, stored: queries.StoredInbound, text: str) -> tuple[Message, str | None, bool]:
        """The message as plugins see it, read by the understanding layer, the plugin to ask first, and
        whether its command declares secret words (only that plugin may read a masked text's original)."""
        dialogue = None
        if stored.phone:
            dialogue = await conversation_queries.get(self._db, stored.phone, stored.created_at)
        products = await self._catalogue()
        try:
            reading = self._reader.read(text, products, in_dialogue=dialogue is not None)
        except Exception:  # a reader bug must not leave the SMS unrouted (and failing again at every start)
            LOGGER.exception("message %d could not be read; answered as not understood", stored.id)
            reading = Reading(None, None, (text.split() or [""])[0].upper(), text, None, "none")
        language = reading.language
        if language is None and stored.phone:  # the words do not tell: the customer's own language
            customer = await customer_queries.get_by_phone(self._db, stored.phone)
            language = customer.language if customer else None
        if reading.how not in ("keyword", "dialogue", "none"):
            LOGGER.info("message %d read as %s (%s)", stored.id, reading.command, reading.how)
        joins = reading.how == "dialogue" and dialogue is not None  # anything but an exact command
        owner = reading.keyword.plugin if reading.keyword else (dialogue[0] if joins else None)
        message = Message(
            id=stored.id, phone=stored.phone, sender=stored.address, text=text,
            received_at=stored.created_at, modem_id=stored.modem_id,
            # never "LAPORAN975310", nor "97" of a masked "97#53#10": only what the stored text shows
            keyword=self._masker.mask_word(reading.word, stored.phone, None if text == stored.text else stored.text)
            or None,
            command=reading.command, args=reading.args,
            language=language or self._settings.store.language,
            conversation=dialogue[1] if joins else None, conversation_plugin=dialogue[0] if joins else None)
        return message, owner, bool(reading.keyword and reading.keyword.secret_words and not joins)

    async def route(self, message_id: int) -> None:
        """Route one stored message (no-op if it was already handled)."""
        stored = await queries.get_inbound(self._db, message_id)
        if stored is None or stored.state != "received":
            return
        real = self._secrets.pop(message_id, None)
        message, owner, secret = await self._message(stored, stored.text if real is None else real)
        if real is not None and not secret:  # not the command that wants it: the PIN stays masked
            message, owner, _ = await self._message(stored, stored.text)
        # observers (webhooks, pages) and the other plugins see the text as stored, the PIN masked
        public = dataclasses.replace(message, text=stored.text, args=split_keyword(stored.text)[2])
        await self._host.emit(MessageReceived(public))
        if message.phone is not None and await self._flooding(message, stored):
            return
        if message.phone is not None and await self._repeated(message, stored, public):
            return
        if message.phone is not None and await self._echoed(message, stored, public):
            return
        failed: dict[str, PluginError] = {}  # plugins that failed on this message: the next is asked
        while True:
            try:
                plugin, reply_id = await self._answer(message, owner, public, failed)
                break
            except PluginError as exc:  # its writes are rolled back; the message goes to the next plugin
                if isinstance(exc.__cause__, StorageUnavailable):
                    raise exc.__cause__ from None  # not the plugin's fault: the message waits for the database
                LOGGER.error("message %d: %s", message.id, exc, exc_info=exc.__cause__)
                if exc.plugin in failed:  # it cannot be left out (never expected): give up on the message
                    await queries.finish_inbound(self._db, message.id, "failed", self._clock(),
                                                 keyword=message.keyword, plugin=exc.plugin, error=str(exc))
                    return
                failed[exc.plugin] = exc
        await self._host.emit(MessageHandled(public, plugin, reply_id))

    async def _answer(self, message: Message, owner: str | None, public: Message,
                      failed: dict[str, PluginError]) -> tuple[str | None, int | None]:
        """Ask the plugins (none in ``failed``), queue the reply and mark the message handled, in one
        transaction: (the plugin that answered, the reply's outbox id). PluginError: rolled back."""
        plugin, reply_id, reason = None, None, None
        with handling_message():
            async with self._host.deferred_events(), self._db.transaction():
                if message.phone is not None:  # never answer a name such as TELKOMSEL
                    plugin, reply = await self._ask_plugins(message, owner, public, skip=failed)
                    if owner in failed and reply is not None and reply.fallback:
                        # the command was understood, its plugin failed: "did you mean ..." would mislead
                        reply = Reply(Speaker(message.language).t("sms.try_again", store=self._settings.store.name),
                                      fallback=True)
                    if reply is not None and reply.text.strip():
                        if reply.fallback and await self._over_budget(message):
                            reason = OVER_BUDGET
                        elif await self._over_cap(message):
                            reason = OVER_CAP
                        else:
                            reply_id = await self._outbox.enqueue(
                                message.phone, reply.text, in_reply_to=message.id, plugin=plugin,
                                modem_id=message.modem_id, fallback=reply.fallback, max_parts=REPLY_PARTS)
                if failed:  # what went wrong stays on the message for staff, answered or not
                    reason = "; ".join([*(str(exc) for exc in failed.values()), *([reason] if reason else [])])
                await queries.finish_inbound(self._db, message.id, "handled" if plugin or not failed else "failed",
                                             self._clock(), keyword=message.keyword,
                                             plugin=plugin or next(iter(failed), None), error=reason)
        return plugin, reply_id

    async def _flooding(self, message: Message, stored: queries.StoredInbound) -> bool:
        """Too many messages from this number this minute: one notice per minute, nothing routed.

        Counted from the database by receive time, so a backlog after downtime is
        not mistaken for a flood, and a restart does not forget one.
        """
        flood = self._settings.flood
        since = stored.created_at - timedelta(minutes=1)
        if await queries.recent_from(self._db, message.phone, message.id, since) <= flood.max_per_minute:
            return False
        async with self._db.transaction():
            if not await queries.sent_by_since(self._db, message.phone, FLOOD, since):
                text = flood.reply.get(message.language) or next(iter(flood.reply.values()))
                await self._outbox.enqueue(message.phone, text, in_reply_to=message.id, plugin=FLOOD,
                                           modem_id=message.modem_id)
            await queries.finish_inbound(self._db, message.id, "handled", self._clock(),
                                         keyword=message.keyword, plugin=FLOOD, error="throttled")
        LOGGER.warning("message %d from %s throttled (more than %d a minute)", message.id, message.phone,
                       flood.max_per_minute)
        return True

    async def _repeated(self, message: Message, stored: queries.StoredInbound, public: Message) -> bool:
        """The same text (case and spacing aside) was answered within ``flood.repeat_minutes``: stored,
        handled, not answered again. Not while a dialogue is open: YA to a new question is new. Not
        for a masked owner command: LAPORAN with a wrong PIN and with the right one are stored alike."""
        minutes = self._settings.flood.repeat_minutes
        if not minutes or message.conversation is not None or message.text != stored.text:
            return False
        since = stored.created_at - timedelta(minutes=minutes)
        answered = await queries.answered_texts(self._db, message.phone, message.id, since, FLOOD)
        if _same(stored.text) not in {_same(text) for text in answered}:
            return False
        async with self._db.transaction():
            await queries.finish_inbound(self._db, message.id, "handled", self._clock(),
                                         keyword=message.keyword, error=REPEATED)
        LOGGER.info("message %d from %s not answered: the same text was answered in the last %g minutes",
                    message.id, message.phone, minutes)
        await self._host.emit(MessageHandled(public, None, None))
        return True

    async def _echoed(self, message: Message, stored: queries.StoredInbound, public: Message) -> bool:
        """The SMS is one of the shop's own texts to this number in the last hour, sent back by a machine
        (an echo bot, a forwarding phone): stored, handled, never acted on ("... Batal: BATAL 12" would
        cancel the order) and never answered."""
        since = stored.created_at - timedelta(hours=1)
        if not _echo_of(stored.text, await queries.sent_texts_since(self._db, message.phone, since)):
            return False
        async with self._db.transaction():
            await queries.finish_inbound(self._db, message.id, "handled", self._clock(),
                                         keyword=message.keyword, error=ECHO)
        LOGGER.info("message %d from %s not answered: it is the shop's own text sent back", message.id,
                    message.phone)
        await self._host.emit(MessageHandled(public, None, None))
        return True

    async def _over_cap(self, message: Message) -> bool:
        """This number already got ``flood.replies_per_hour`` replies in the last hour (a machine that
        answers every reply with something the shop understands: a loop a person never makes)."""
        cap = self._settings.flood.replies_per_hour
        if await queries.replies_since(self._db, message.phone, self._clock() - timedelta(hours=1)) < cap:
            return False
        LOGGER.warning("message %d from %s not answered: %d replies in the last hour already", message.id,
                       message.phone, cap)
        return True

    async def _over_budget(self, message: Message) -> bool:
        """This number already got ``flood.unknown_per_hour`` "not understood" replies in the last hour.

        Counted from the outbox, so a restart forgets none: a machine that answers every SMS
        (an error text, an auto-reply) gets a few help texts, never an endless exchange.
        """
        limit = self._settings.flood.unknown_per_hour
        if await queries.fallbacks_since(self._db, message.phone, self._clock() - timedelta(hours=1)) < limit:
            return False
        LOGGER.info("message %d from %s not answered: %d 'not understood' replies in the last hour already",
                    message.id, message.phone, limit)
        return True

    async def _ask_plugins(self, message: Message, owner: str | None, public: Message,
                           skip: Collection[str]) -> tuple[str | None, Reply | None]:
        """The plugin that owns the command first (with the real text), then the others (with the
        text as stored: a masked PIN stays masked for them); none in ``skip``. What a plugin returns
        must be a Reply or None: anything else is that plugin's failure (PluginError)."""
        if owner is not None and owner not in skip:
            plugin, reply = await self._host.call_first("handle_message", only=owner, message=message)
            if reply is not None:
                return plugin, _checked(plugin, reply)
        others = message if message.text == public.text else dataclasses.replace(message, text=public.text,
                                                                                 args=public.args)
        plugin, reply = await self._host.call_first("handle_message", skip={owner, *skip} - {None}, message=others)
        return plugin, None if reply is None else _checked(plugin, reply)


def _checked(plugin: str | None, reply: object) -> Reply:
    """``reply`` if it is one the outbox can send, else the plugin's PluginError."""
    if isinstance(reply, Reply) and isinstance(reply.text, str):
        text = str.__str__(reply.text)  # a plain str: a subclass's own methods are the plugin's, not ours to run
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:  # a lone surrogate: no SMS can carry it
            raise PluginError(plugin or "?", "handle_message", f"returned a text that is not Unicode: {exc}") from None
        return Reply(text, fallback=reply.fallback is True)
    what = f"Reply({reply.text!r})" if isinstance(reply, Reply) else f"{type(reply).__name__} {reply!r:.60}"
    raise PluginError(plugin or "?", "handle_message", f"returned {what}; a hook returns Reply(text: str) or None")


def _echo_of(text: str, sent: list[str]) -> bool:
    """``text`` is one of ``sent`` come back, perhaps changed a little ("Re: ...", "... (1)", "> ...",
    full stops dropped, case): it holds a sent text whole, or nearly equals one."""
    got = _letters(text)
    if len(got) < ECHO_MIN:
        return False
    for t in sent:
        mine = _letters(t)
        if len(mine) >= ECHO_MIN and (mine in got or fuzz.ratio(got, mine) >= ECHO_SIMILAR):
            return True
    return False


def _letters(text: str) -> str:
    return " ".join(re.sub(r"[^0-9a-z]+", " ", text.casefold()).split())


def _same(text: str) -> str:
    """A text as compared for repeats: case and spacing do not count."""
    return " ".join(text.split()).casefold()
