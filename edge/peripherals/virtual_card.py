"""A FAKE My Number Card for tests and the demo: a virtual JPKI card behind vsmartcard's vpcd.

No physical card can be used here, so this stands in for one. It is plainly a fake: every name
says "virtual", the personal data it holds is made up, and it only ever talks to a vpcd reader
(normally the private pcscd of `madoguchi.pcscd`).

The vpcd socket protocol: vpcd listens on a TCP port per reader slot and the card connects as
the client. Each message is a 2-byte big-endian length and a payload. A 1-byte payload is a
control code (0 power off, 1 power on, 2 reset, 4 "send the ATR"); anything longer is a command
APDU, answered by one response APDU. Closing the socket takes the card off the reader.

The card answers like the real one for what the kiosk needs: SELECT of the JPKI and
input-support applications by AID (`P2 = 0C`), SELECT of their PIN EFs, VERIFY with and without
a PIN (retry counters, `63Cx`, blocked `6983`/`6984`), and READ BINARY of its (fake) personal
files only after the application's PIN was verified, so a test can prove the reader never
reads them. It can also play a card that is not a My Number Card, a mute card, and a card
pulled off the reader in the middle of a read.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from dataclasses import dataclass, field
from typing import Literal

from edge.peripherals import jpki

VirtualCardKind = Literal["mynumber", "other", "mute"]

# A T=1 ATR of the shape My Number Cards answer with. The reader never looks at it: detection
# goes by the JPKI application, and tests swap it for another to prove that.
MYNUMBER_LIKE_ATR = bytes.fromhex("3BE000FF8131FE4514")

_CTRL_POWER_OFF = 0
_CTRL_POWER_ON = 1
_CTRL_RESET = 2
_CTRL_ATR = 4

# Data EFs of the fake card (identifiers as on the real card; contents made up).
_EF_USER_AUTH_CERT = 0x000A
_EF_MY_NUMBER = 0x0001
_EF_BASIC_INFO = 0x0002


def _with_tck(atr_without_tck: bytes) -> bytes:
    """Append the ATR check byte (XOR of T0 … last byte) so pcscd accepts the ATR."""
    tck = 0
    for byte in atr_without_tck[1:]:
        tck ^= byte
    return atr_without_tck + bytes([tck])


# A different, valid T=1 ATR (another card generation or a different card altogether).
OTHER_ATR = _with_tck(bytes.fromhex("3B8880010000000077818100"))


@dataclass(frozen=True)
class FakePersonalData:
    """Made-up contents of the card's personal files. Nothing here is a real person; tests
    use it to prove that none of it ever leaves the card through the kiosk."""

    my_number: str = "999900001111"
    name: str = "仮想 太郎"
    address: str = "沖縄県浦添市仮想町1-2-3"
    certificate: bytes = b"FAKE-USER-AUTH-CERTIFICATE-" + bytes(range(32))


@dataclass
class _Pin:
    value: bytes
    max_tries: int
    tries: int


@dataclass
class _Application:
    pin_ef: int
    pin: _Pin
    files: dict[int, bytes] = field(default_factory=dict)


@dataclass(frozen=True)
class ReceivedCommand:
    """The header of a command the card received (never its data, so a PIN is not kept)."""

    cla: int
    ins: int
    p1: int
    p2: int
    data_length: int


class VirtualJpkiCard:
    """A fake JPKI card that connects to a vpcd reader slot at `host:port` on `insert()`.

    Thread based: one daemon thread per insertion serves the socket, so it works the same
    from synchronous tests, asyncio code and the demo. All setters are thread safe.
    """

    def __init__(
        self,
        port: int,
        *,
        host: str = "127.0.0.1",
        kind: VirtualCardKind = "mynumber",
        atr: bytes = MYNUMBER_LIKE_ATR,
        user_auth_pin: str = "1234",
        input_support_pin: str = "1234",
        user_auth_max_tries: int = jpki.USER_AUTH_PIN_MAX_TRIES,
        input_support_max_tries: int = jpki.INPUT_SUPPORT_PIN_MAX_TRIES,
        personal: FakePersonalData | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self._lock = threading.Lock()
        self._kind: VirtualCardKind = kind
        self._atr = atr
        personal = personal or FakePersonalData()
        self.personal = personal
        self._apps: dict[bytes, _Application] = {
            jpki.JPKI_AID: _Application(
                pin_ef=jpki.USER_AUTH_PIN_EF,
                pin=_Pin(user_auth_pin.encode(), user_auth_max_tries, user_auth_max_tries),
                files={_EF_USER_AUTH_CERT: personal.certificate},
            ),
            jpki.INPUT_SUPPORT_AID: _Application(
                pin_ef=jpki.INPUT_SUPPORT_PIN_EF,
                pin=_Pin(
                    input_support_pin.encode(), input_support_max_tries, input_support_max_tries
                ),
                files={
                    _EF_MY_NUMBER: personal.my_number.encode(),
                    _EF_BASIC_INFO: f"{personal.name}\n{personal.address}".encode(),
                },
            ),
        }
        self._current_app: bytes | None = None
        self._current_ef: int | None = None
        self._verified: set[bytes] = set()
        self._commands: list[ReceivedCommand] = []
        self._pull_after: int | None = None
        self._apdus_this_insertion = 0
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._gone = threading.Event()
        self._gone.set()

    # --- the card on the reader ---------------------------------------------------------

    def insert(self, *, timeout: float = 5.0) -> None:
        """Put the card on the reader (connect to vpcd). Raises OSError when no vpcd listens."""
        if self.inserted:
            return
        sock = socket.create_connection((self.host, self.port), timeout=timeout)
        sock.settimeout(None)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self._lock:
            self._sock = sock
            self._apdus_this_insertion = 0
            self._reset_session()
            self._gone.clear()
        self._thread = threading.Thread(
            target=self._serve, args=(sock,), name=f"virtual-jpki-card:{self.port}", daemon=True
        )
        self._thread.start()

    def remove(self, *, timeout: float = 5.0) -> None:
        """Take the card off the reader (close the socket)."""
        with self._lock:
            sock, self._sock = self._sock, None
        if sock is not None:
            _close(sock)
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)
        self._thread = None

    @property
    def inserted(self) -> bool:
        """False once removed, or once the reader side closed (pcscd stopped)."""
        return not self._gone.is_set()

    def wait_removed(self, timeout: float) -> bool:
        return self._gone.wait(timeout)

    # --- what the tests (and the demo) turn -------------------------------------------

    @property
    def kind(self) -> VirtualCardKind:
        return self._kind

    @kind.setter
    def kind(self, kind: VirtualCardKind) -> None:
        with self._lock:
            self._kind = kind

    @property
    def atr(self) -> bytes:
        return self._atr

    @atr.setter
    def atr(self, atr: bytes) -> None:
        with self._lock:
            self._atr = atr

    @property
    def user_auth_tries(self) -> int:
        return self._apps[jpki.JPKI_AID].pin.tries

    @property
    def input_support_tries(self) -> int:
        return self._apps[jpki.INPUT_SUPPORT_AID].pin.tries

    def set_tries(self, *, user_auth: int | None = None, input_support: int | None = None) -> None:
        """Set the retry counters directly (0 = blocked), as if wrong PINs had been typed."""
        with self._lock:
            for aid, value in ((jpki.JPKI_AID, user_auth), (jpki.INPUT_SUPPORT_AID, input_support)):
                if value is not None:
                    pin = self._apps[aid].pin
                    if not 0 <= value <= pin.max_tries:
                        raise ValueError(f"tries must be 0…{pin.max_tries}")
                    pin.tries = value

    def pull_after(self, apdus: int | None) -> None:
        """Take the card off the reader when the `apdus`-th command APDU of an insertion
        arrives, without answering it: a card pulled out in the middle of a read."""
        with self._lock:
            self._pull_after = apdus

    @property
    def commands(self) -> list[ReceivedCommand]:
        """Headers of every command APDU received (no data), oldest first."""
        with self._lock:
            return list(self._commands)

    def clear_commands(self) -> None:
        with self._lock:
            self._commands.clear()

    # --- the vpcd socket ----------------------------------------------------------------

    def _serve(self, sock: socket.socket) -> None:
        try:
            while True:
                payload = _receive(sock)
                if payload is None:
                    return
                if not payload:
                    continue
                if len(payload) == 1:
                    answer = self._control(payload[0])
                else:
                    with self._lock:
                        self._apdus_this_insertion += 1
                        pull = self._pull_after == self._apdus_this_insertion
                    if pull:
                        return  # pulled out: the command is never answered
                    answer = self._command(payload)
                if answer is not None:
                    sock.sendall(struct.pack(">H", len(answer)) + answer)
        except OSError:
            return
        finally:
            with self._lock:
                if self._sock is sock:
                    self._sock = None
            _close(sock)
            self._gone.set()

    def _control(self, code: int) -> bytes | None:
        with self._lock:
            if code in (_CTRL_POWER_OFF, _CTRL_POWER_ON, _CTRL_RESET):
                self._reset_session()  # a cold or warm reset forgets selections and PIN state
                return None
            if code == _CTRL_ATR:
                return self._atr
        return None

    def _reset_session(self) -> None:
        self._current_app = None
        self._current_ef = None
        self._verified.clear()

    # --- the card's operating system ----------------------------------------------------

    def _command(self, apdu: bytes) -> bytes:
        cla, ins, p1, p2 = apdu[0], apdu[1], apdu[2], apdu[3]
        data = b""
        if len(apdu) > 5 and apdu[4] != 0:
            data = apdu[5 : 5 + apdu[4]]
        with self._lock:
            self._commands.append(ReceivedCommand(cla, ins, p1, p2, len(data)))
            kind = self._kind
            if kind == "mute":
                return b"\x00"  # no status word: a card that does not really answer
            if cla != 0x00:
                return _sw(jpki.SW_CLA_NOT_SUPPORTED)
            if kind == "other":
                return _sw(jpki.SW_FILE_NOT_FOUND if ins == jpki.INS_SELECT else 0x6D00)
            if ins == jpki.INS_SELECT:
                return self._select(p1, p2, data)
            if ins == jpki.INS_VERIFY:
                return self._verify(p1, p2, data)
            if ins == jpki.INS_READ_BINARY:
                return self._read_binary()
            return _sw(jpki.SW_INS_NOT_SUPPORTED)

    def _select(self, p1: int, p2: int, data: bytes) -> bytes:
        if p2 != jpki.SELECT_NO_RESPONSE_DATA:
            return _sw(jpki.SW_WRONG_P1P2)
        if p1 == jpki.SELECT_BY_AID:
            if data not in self._apps:
                return _sw(jpki.SW_FILE_NOT_FOUND)
            self._current_app, self._current_ef = data, None
            return _sw(jpki.SW_OK)
        if p1 == jpki.SELECT_EF_UNDER_DF and len(data) == 2:
            fid = int.from_bytes(data, "big")
            app = self._apps.get(self._current_app) if self._current_app else None
            if app is None or (fid != app.pin_ef and fid not in app.files):
                return _sw(jpki.SW_FILE_NOT_FOUND)
            self._current_ef = fid
            return _sw(jpki.SW_OK)
        return _sw(jpki.SW_WRONG_P1P2)

    def _verify(self, p1: int, p2: int, data: bytes) -> bytes:
        if p1 != 0x00 or p2 != jpki.VERIFY_LOCAL_PIN:
            return _sw(jpki.SW_WRONG_P1P2)
        app = self._apps.get(self._current_app) if self._current_app else None
        if app is None or self._current_ef != app.pin_ef:
            return _sw(jpki.SW_COMMAND_NOT_ALLOWED)
        pin = app.pin
        if not data:  # a status query: never uses a try
            if pin.tries == 0:
                return _sw(jpki.SW_REFERENCE_DATA_UNUSABLE)
            return _sw(0x63C0 | pin.tries)
        if pin.tries == 0:
            return _sw(jpki.SW_AUTH_METHOD_BLOCKED)
        if data == pin.value:
            pin.tries = pin.max_tries
            assert self._current_app is not None
            self._verified.add(self._current_app)
            return _sw(jpki.SW_OK)
        pin.tries -= 1
        return _sw(0x63C0 | pin.tries)

    def _read_binary(self) -> bytes:
        app = self._apps.get(self._current_app) if self._current_app else None
        if app is None or self._current_ef not in app.files:
            return _sw(jpki.SW_COMMAND_NOT_ALLOWED)
        if self._current_app not in self._verified:
            return _sw(jpki.SW_SECURITY_NOT_SATISFIED)
        return app.files[self._current_ef][:255] + _sw(jpki.SW_OK)


def _sw(sw: int) -> bytes:
    return sw.to_bytes(2, "big")


def _receive(sock: socket.socket) -> bytes | None:
    header = _receive_exactly(sock, 2)
    if header is None:
        return None
    (length,) = struct.unpack(">H", header)
    return _receive_exactly(sock, length)


def _receive_exactly(sock: socket.socket, size: int) -> bytes | None:
    chunks = bytearray()
    while len(chunks) < size:
        chunk = sock.recv(size - len(chunks))
        if not chunk:
            return None
        chunks += chunk
    return bytes(chunks)


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()
