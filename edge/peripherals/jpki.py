"""The few APDUs the card reader sends to a My Number Card, and how to read their answers.

Pure building and parsing, no I/O. Only SELECT and VERIFY *without data* are built here:
nothing in this module can send a PIN, read a file, or touch a certificate. The answers are
reduced to status words (SW1 SW2); response data is never looked at.

References: ISO/IEC 7816-4 (SELECT, VERIFY, status words); the AIDs and EF identifiers are the
ones the JPKI client software and OpenSC's `jpki` driver use.
"""

from __future__ import annotations

from collections.abc import Sequence

# 公的個人認証サービス (JPKI) application: holds the user-authentication certificate and PIN.
JPKI_AID = bytes.fromhex("D392F000260100000001")
# 券面事項入力補助 application (card-face input support): the 4-digit PIN bank-account
# registration asks for.
INPUT_SUPPORT_AID = bytes.fromhex("D3921000310001010408")
# PIN objects (EFs) inside those applications.
USER_AUTH_PIN_EF = 0x0018
INPUT_SUPPORT_PIN_EF = 0x0011

# Real cards allow this many wrong entries before the PIN blocks (the virtual card's defaults).
USER_AUTH_PIN_MAX_TRIES = 3
INPUT_SUPPORT_PIN_MAX_TRIES = 3

SW_OK = 0x9000
SW_FILE_NOT_FOUND = 0x6A82
SW_AUTH_METHOD_BLOCKED = 0x6983
SW_REFERENCE_DATA_UNUSABLE = 0x6984
SW_CONDITIONS_NOT_SATISFIED = 0x6985
SW_COMMAND_NOT_ALLOWED = 0x6986
SW_SECURITY_NOT_SATISFIED = 0x6982
SW_WRONG_P1P2 = 0x6A86
SW_INS_NOT_SUPPORTED = 0x6D00
SW_CLA_NOT_SUPPORTED = 0x6E00

INS_SELECT = 0xA4
INS_VERIFY = 0x20
INS_READ_BINARY = 0xB0

# SELECT P1: 04 = by DF name (AID), 02 = EF under the current DF.
# SELECT P2: 0C = first occurrence, return no FCI (the JPKI cards answer a bare 9000).
SELECT_BY_AID = 0x04
SELECT_EF_UNDER_DF = 0x02
SELECT_NO_RESPONSE_DATA = 0x0C
# VERIFY P2: 80 = a PIN local to the currently selected application/EF.
VERIFY_LOCAL_PIN = 0x80


def select_application(aid: bytes) -> list[int]:
    """`00 A4 04 0C Lc <AID>`: select an application by its AID."""
    if not 5 <= len(aid) <= 16:
        raise ValueError("an AID is 5 to 16 bytes")
    return [0x00, INS_SELECT, SELECT_BY_AID, SELECT_NO_RESPONSE_DATA, len(aid), *aid]


def select_ef(fid: int) -> list[int]:
    """`00 A4 02 0C 02 <FID>`: select an elementary file of the current application."""
    if not 0 <= fid <= 0xFFFF:
        raise ValueError("a file identifier is two bytes")
    return [0x00, INS_SELECT, SELECT_EF_UNDER_DF, SELECT_NO_RESPONSE_DATA, 2, fid >> 8, fid & 0xFF]


def verify_without_data() -> list[int]:
    """`00 20 00 80`: ask the selected PIN how many tries are left. Carries no PIN, so it never
    uses a try (ISO 7816-4: VERIFY with an absent data field returns the retry counter)."""
    return [0x00, INS_VERIFY, 0x00, VERIFY_LOCAL_PIN]


def status_word(response: Sequence[int]) -> int | None:
    """SW1 SW2 of a response APDU, or None when the card gave less than a status word."""
    if len(response) < 2:
        return None
    return (response[-2] << 8) | response[-1]


def parse_tries(sw: int) -> int | None:
    """Tries left from a VERIFY-without-data answer: `63Cx` → x; `6983`/`6984` → 0 (blocked);
    anything else → None (unknown). `9000` is also unknown: a card answers it when the PIN was
    already verified in the current session (e.g. by the browser's software), not the count."""
    if sw & 0xFFF0 == 0x63C0:
        return sw & 0x0F
    if sw in (SW_AUTH_METHOD_BLOCKED, SW_REFERENCE_DATA_UNUSABLE):
        return 0
    return None
