"""The kiosk's card reader over PC/SC (pyscard's `smartcard.scard`, talking to pcscd).

What it reports (`protocol.v1.card.CardState`): reader present/absent, whether pcscd answers,
whether a card is there, whether it is a My Number Card — told by SELECTing the JPKI
application, never by the ATR, which differs between card generations and readers — and the
tries left of the user-authentication PIN and of the input-support PIN, asked with VERIFY
*without data*, which never uses a try.

Privacy and sharing rules, kept by construction:

* the only APDUs sent are built in `edge.peripherals.jpki` (SELECT, VERIFY without data): no
  PIN is ever sent, no file, certificate, My Number or name is ever read;
* APDUs and response data are never logged; only the resulting state is;
* the card is opened in SHARED mode inside a short transaction and released at once with
  SCARD_LEAVE_CARD, so the browser's Mynaportal software can use the same reader. The card is
  examined when it is inserted and on `refresh()` (e.g. after the resident typed a PIN), not
  in a loop, so the reader does not keep stealing the card from that software.

`watch()` runs `SCardGetStatusChange` in a worker thread with a bounded wait and hands each
new state to the event loop. Every failure (card pulled mid-read, reader unplugged, pcscd
stopped) becomes a state with a message; the watcher reconnects when pcscd is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import AsyncGenerator, Callable, Sequence
from typing import Any

from smartcard import scard

from edge.peripherals import jpki
from protocol.v1.card import CardState
from protocol.v1.messages import Peripheral, PeripheralName

log = logging.getLogger(__name__)

PNP_NOTIFICATION = "\\\\?PnP?\\Notification"

# Errors meaning the PC/SC service (or our connection to it) is gone: start over. Calls on
# the context treat any unexpected error this way too.
_SERVICE_GONE = frozenset(
    {scard.SCARD_E_NO_SERVICE, scard.SCARD_E_SERVICE_STOPPED, scard.SCARD_E_INVALID_HANDLE}
)
_READER_GONE = frozenset({scard.SCARD_E_UNKNOWN_READER, scard.SCARD_E_READER_UNAVAILABLE})
_CARD_GONE = frozenset({scard.SCARD_W_REMOVED_CARD, scard.SCARD_E_NO_SMARTCARD})
_CARD_MUTE = frozenset({scard.SCARD_W_UNRESPONSIVE_CARD, scard.SCARD_W_UNPOWERED_CARD})
# Bits of a reader's event state that say something about the card (not who uses it).
_PRESENCE_BITS = (
    scard.SCARD_STATE_PRESENT
    | scard.SCARD_STATE_EMPTY
    | scard.SCARD_STATE_MUTE
    | scard.SCARD_STATE_UNAVAILABLE
)
_PROTOCOLS = scard.SCARD_PROTOCOL_T0 | scard.SCARD_PROTOCOL_T1


class _ServiceGone(Exception):
    """pcscd does not answer (stopped, restarted, never started)."""


class _ReaderGone(Exception):
    """The reader we were using disappeared."""


class _CardGone(Exception):
    """The card left during the few APDUs (pulled out, or the link to it broke)."""


class CardReader:
    """A PC/SC card reader, as a kiosk peripheral and as a live source of `CardState`.

    `reader` picks the reader whose name contains this text (case-insensitive); by default
    the first reader pcscd lists.
    """

    def __init__(
        self,
        reader: str | None = None,
        *,
        wait_interval: float = 0.5,
        retry_interval: float = 0.5,
    ) -> None:
        self.reader_filter = reader
        # Bounded waits: how soon a watcher notices `stop`, and how often it retries pcscd.
        self.wait_interval = wait_interval
        self.retry_interval = retry_interval
        self._lock = threading.Lock()
        self._watch_contexts: set[int] = set()
        self._refresh_generation = 0

    # --- PeripheralDriver ---------------------------------------------------------------

    @property
    def name(self) -> PeripheralName:
        return "card_reader"

    @property
    def simulated(self) -> bool:
        return False

    async def status(self) -> Peripheral:
        """Reader and card presence without talking to the card (cheap, for telemetry)."""
        return _peripheral(await asyncio.to_thread(self._read_once, probe=False))

    async def self_test(self) -> Peripheral:
        """A full read, including the card's applications when a card is there."""
        return _peripheral(await asyncio.to_thread(self._read_once, probe=True))

    # --- card state -------------------------------------------------------------------

    async def read_state(self) -> CardState:
        """The state now, reading the card if one is on the reader. Never raises."""
        return await asyncio.to_thread(self._read_once, probe=True)

    def refresh(self) -> None:
        """Ask running watchers to examine the card again (e.g. after a PIN was entered in
        the browser, to show the new tries left)."""
        with self._lock:
            self._refresh_generation += 1
            contexts = list(self._watch_contexts)
        for context in contexts:
            _cancel(context)

    async def watch(self) -> AsyncGenerator[CardState, None]:
        """Yield the current state, then a new one on every change. Never raises; stops
        when the consumer stops iterating (the worker notices within `wait_interval`)."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[CardState] = asyncio.Queue()
        stop = threading.Event()

        def emit(state: CardState) -> None:
            try:
                loop.call_soon_threadsafe(queue.put_nowait, state)
            except RuntimeError:  # the loop is closed: nobody listens any more
                stop.set()

        worker = threading.Thread(
            target=self._watch_worker, args=(emit, stop), name="card-reader-watch", daemon=True
        )
        worker.start()
        try:
            while True:
                yield await queue.get()
        finally:
            stop.set()
            with self._lock:
                contexts = list(self._watch_contexts)
            for context in contexts:
                _cancel(context)
            await asyncio.to_thread(worker.join, self.wait_interval * 4 + 1)

    # --- worker side (blocking PC/SC calls) -------------------------------------------

    def _read_once(self, *, probe: bool) -> CardState:
        try:
            context = _establish()
        except _ServiceGone:
            return _service_unavailable()
        reader: str | None = None
        try:
            reader = self._pick(_list_readers(context))
            if reader is None:
                return CardState.of(reader="absent")
            flags = _reader_flags(context, reader)
            if not probe:
                return _presence_only(reader, flags)
            return _probe(context, reader, flags)
        except _ServiceGone:
            return _service_unavailable()
        except _ReaderGone:
            return CardState.of(reader="absent")
        except Exception:  # never let a driver surprise reach the caller
            log.exception("card reader: unexpected failure")
            return _reader_error(reader)
        finally:
            _release(context)

    def _watch_worker(self, emit: Callable[[CardState], None], stop: threading.Event) -> None:
        last: CardState | None = None

        def publish(state: CardState) -> None:
            nonlocal last
            if state != last:
                last = state
                log.info(
                    "card reader: reader=%s card=%s user_auth_tries=%s input_support_tries=%s "
                    "problem=%s",
                    state.reader,
                    state.card,
                    state.user_auth_pin_tries,
                    state.input_support_pin_tries,
                    state.problem,
                )
                emit(state)

        while not stop.is_set():
            try:
                context = _establish()
            except _ServiceGone:
                publish(_service_unavailable())
                stop.wait(self.retry_interval)
                continue
            with self._lock:
                self._watch_contexts.add(context)
            try:
                self._watch_context(context, publish, stop)
            except _ServiceGone:
                publish(_service_unavailable())
                stop.wait(self.retry_interval)
            except Exception:
                log.exception("card reader watcher: unexpected failure, starting over")
                publish(_reader_error(last.reader_name if last else None))
                stop.wait(self.retry_interval)
            finally:
                with self._lock:
                    self._watch_contexts.discard(context)
                _release(context)

    def _watch_context(
        self, context: int, publish: Callable[[CardState], None], stop: threading.Event
    ) -> None:
        timeout_ms = int(self.wait_interval * 1000)
        pnp_flags = scard.SCARD_STATE_UNAWARE
        examined: tuple[str, int, int] | None = None  # (reader, presence bits, event counter)
        seen_generation = self._refresh_generation
        while not stop.is_set():
            reader = self._pick(_list_readers(context))
            if reader is None:
                examined = None
                publish(CardState.of(reader="absent"))
                # Wait for a reader to be plugged in (PnP notification), bounded.
                hr, states = scard.SCardGetStatusChange(
                    context, timeout_ms, [(PNP_NOTIFICATION, pnp_flags)]
                )
                _check_wait(hr)
                if hr == scard.SCARD_S_SUCCESS:
                    pnp_flags = states[0][1] & ~scard.SCARD_STATE_CHANGED
                continue
            try:
                flags = _reader_flags(context, reader)
            except _ReaderGone:
                continue
            key = (reader, flags & _PRESENCE_BITS, flags >> 16)
            generation = self._refresh_generation
            if key != examined or generation != seen_generation:
                examined, seen_generation = key, generation
                try:
                    publish(_probe(context, reader, flags))
                except _ReaderGone:
                    continue
            # Wait for the card or the reader list to change, bounded so `stop` is seen.
            hr, states = scard.SCardGetStatusChange(
                context,
                timeout_ms,
                [(reader, flags & ~scard.SCARD_STATE_CHANGED), (PNP_NOTIFICATION, pnp_flags)],
            )
            _check_wait(hr)
            if hr == scard.SCARD_S_SUCCESS:
                pnp_flags = states[1][1] & ~scard.SCARD_STATE_CHANGED

    def _pick(self, readers: Sequence[str]) -> str | None:
        wanted = self.reader_filter.casefold() if self.reader_filter else None
        for reader in readers:
            if wanted is None or wanted in reader.casefold():
                return reader
        return None


# --- PC/SC helpers (blocking) ---------------------------------------------------------------


def _establish() -> int:
    hr, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    if hr != scard.SCARD_S_SUCCESS:
        raise _ServiceGone(_error_text(hr))
    return int(context)


def _release(context: int) -> None:
    with contextlib.suppress(Exception):
        scard.SCardReleaseContext(context)


def _cancel(context: int) -> None:
    # Wakes a blocked SCardGetStatusChange in the worker thread; harmless otherwise.
    with contextlib.suppress(Exception):
        scard.SCardCancel(context)


def _list_readers(context: int) -> list[str]:
    hr, readers = scard.SCardListReaders(context, [])
    if hr == scard.SCARD_E_NO_READERS_AVAILABLE:
        return []
    if hr != scard.SCARD_S_SUCCESS:
        raise _ServiceGone(_error_text(hr))
    return [r for r in readers if r != PNP_NOTIFICATION]


def _reader_flags(context: int, reader: str) -> int:
    hr, states = scard.SCardGetStatusChange(context, 0, [(reader, scard.SCARD_STATE_UNAWARE)])
    if hr in _READER_GONE:
        raise _ReaderGone(reader)
    if hr not in (scard.SCARD_S_SUCCESS, scard.SCARD_E_TIMEOUT):
        raise _ServiceGone(_error_text(hr))
    flags = int(states[0][1])
    if flags & (scard.SCARD_STATE_UNKNOWN | scard.SCARD_STATE_IGNORE):
        raise _ReaderGone(reader)
    return flags


def _check_wait(hr: int) -> None:
    """Results of a bounded wait: a change, a timeout or a cancel are all fine."""
    if hr in (scard.SCARD_S_SUCCESS, scard.SCARD_E_TIMEOUT, scard.SCARD_E_CANCELLED):
        return
    if hr in _READER_GONE:
        return  # the next round lists the readers again
    raise _ServiceGone(_error_text(hr))


def _presence_only(reader: str, flags: int) -> CardState:
    if flags & scard.SCARD_STATE_UNAVAILABLE:
        return _reader_error(reader)
    if flags & scard.SCARD_STATE_MUTE:
        return CardState.of(reader="present", reader_name=reader, card="mute")
    if flags & scard.SCARD_STATE_PRESENT:
        # Kind unknown without talking to the card; status() stays cheap on purpose.
        return CardState.of(reader="present", reader_name=reader, card="unknown")
    return CardState.of(reader="present", reader_name=reader)


def _probe(context: int, reader: str, flags: int) -> CardState:
    """Examine the card on `reader`: a handful of APDUs in one shared-mode transaction."""
    if flags & scard.SCARD_STATE_UNAVAILABLE:
        return _reader_error(reader)
    if not flags & scard.SCARD_STATE_PRESENT:
        return CardState.of(reader="present", reader_name=reader)
    if flags & scard.SCARD_STATE_MUTE:
        return CardState.of(reader="present", reader_name=reader, card="mute")

    for attempt in range(2):
        hr, card, protocol = scard.SCardConnect(
            context, reader, scard.SCARD_SHARE_SHARED, _PROTOCOLS
        )
        if hr != scard.SCARD_S_SUCCESS:
            return _connect_failure(hr, reader)
        try:
            hr = scard.SCardBeginTransaction(card)
            if hr == scard.SCARD_W_RESET_CARD and attempt == 0:
                continue  # another program reset the card just now: connect again, once
            if hr != scard.SCARD_S_SUCCESS:
                return _connect_failure(hr, reader)
            try:
                return _examine(card, protocol, reader)
            finally:
                scard.SCardEndTransaction(card, scard.SCARD_LEAVE_CARD)
        except _CardGone:
            return CardState.of(reader="present", reader_name=reader, problem="read_interrupted")
        finally:
            # LEAVE_CARD: no reset, no power-down, so other software keeps its session.
            scard.SCardDisconnect(card, scard.SCARD_LEAVE_CARD)
    return _reader_error(reader)


def _examine(card: Any, protocol: int, reader: str) -> CardState:
    def transmit(apdu: list[int]) -> int | None:
        hr, response = scard.SCardTransmit(card, protocol, apdu)
        if hr in _SERVICE_GONE:
            raise _ServiceGone(_error_text(hr))
        if hr != scard.SCARD_S_SUCCESS:
            # Removed, reset, or the link broke mid-command: in practice the card moved.
            raise _CardGone(_error_text(hr))
        return jpki.status_word(response)  # the response data itself is dropped here

    def tries(ef: int) -> int | None:
        if transmit(jpki.select_ef(ef)) != jpki.SW_OK:
            return None
        sw = transmit(jpki.verify_without_data())
        return None if sw is None else jpki.parse_tries(sw)

    sw = transmit(jpki.select_application(jpki.JPKI_AID))
    if sw is None:
        return CardState.of(reader="present", reader_name=reader, card="mute")
    if sw != jpki.SW_OK:
        return CardState.of(reader="present", reader_name=reader, card="other")
    user_auth = tries(jpki.USER_AUTH_PIN_EF)
    input_support = None
    if transmit(jpki.select_application(jpki.INPUT_SUPPORT_AID)) == jpki.SW_OK:
        input_support = tries(jpki.INPUT_SUPPORT_PIN_EF)
    return CardState.of(
        reader="present",
        reader_name=reader,
        card="mynumber",
        user_auth_pin_tries=user_auth,
        input_support_pin_tries=input_support,
    )


def _connect_failure(hr: int, reader: str) -> CardState:
    if hr in _SERVICE_GONE:
        raise _ServiceGone(_error_text(hr))
    if hr in _READER_GONE:
        raise _ReaderGone(reader)
    if hr in _CARD_GONE:
        return CardState.of(reader="present", reader_name=reader, problem="read_interrupted")
    if hr in _CARD_MUTE:
        return CardState.of(reader="present", reader_name=reader, card="mute")
    if hr == scard.SCARD_E_SHARING_VIOLATION:
        return CardState.of(
            reader="present", reader_name=reader, card="unknown", problem="card_busy"
        )
    log.warning("card reader: cannot open the card: %s", _error_text(hr))
    return _reader_error(reader)


def _service_unavailable() -> CardState:
    return CardState.of(reader="service_unavailable")


def _reader_error(reader: str | None) -> CardState:
    return CardState.of(
        reader="present", reader_name=reader, card="unknown", problem="reader_error"
    )


def _error_text(hr: int) -> str:
    try:
        return f"{scard.SCardGetErrorMessage(hr)} (0x{hr & 0xFFFFFFFF:08X})"
    except Exception:
        return f"0x{hr & 0xFFFFFFFF:08X}"


def _peripheral(state: CardState) -> Peripheral:
    if state.reader == "service_unavailable":
        return Peripheral(
            name="card_reader", status="error", simulated=False, detail="pcscd not reachable"
        )
    if state.reader == "absent":
        return Peripheral(
            name="card_reader", status="absent", simulated=False, detail="no card reader"
        )
    reader = (state.reader_name or "reader")[:120]
    if state.problem == "reader_error":
        return Peripheral(
            name="card_reader", status="error", simulated=False, detail=f"{reader}: reader error"
        )
    # `unknown` without a problem = a card is there but status() did not talk to it.
    card = "present" if state.card == "unknown" and state.problem is None else state.card
    return Peripheral(
        name="card_reader", status="ok", simulated=False, detail=f"{reader}: card {card}"
    )
