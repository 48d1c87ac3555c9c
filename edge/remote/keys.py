"""Browser key names (`KeyboardEvent.key`) to X keysyms, and the deny-list.

Pure: no X connection. The chord a key message resolves to here is exactly what the injector
produces, so the deny-list judges what the kiosk's applications would actually receive.

How modifiers resolve (`resolve_chord`):
- For a printable character the character already says whether Shift was used ("A", "@"),
  so Shift follows the character: letters carry Shift when upper case; for other characters
  the kiosk's keyboard map decides (the injector presses Shift when the map needs it).
- Ctrl+Alt on a printable non-alphanumeric character is AltGr on the operator's keyboard
  (Windows reports AltGr as Ctrl+Alt: a German "@" arrives as key "@" with ctrl and alt), so
  both are dropped and the character is typed.
- A modifier key going down ("Control") implies its own flag.

The deny-list is written as allow-lists where a browser could add shortcuts over time:
- Meta/Super/OS/Hyper, alone or as a modifier: denied (desktop shortcuts).
- Function keys F1–F24 except F5 (reload): denied. This covers VT switching
  (Ctrl+Alt+F1..F12), Alt+F4, F11 (fullscreen), F12 (devtools), F1 (help tab), F3 (find),
  F6 (address bar), F7 (caret browsing), F10 (menu), Alt+F1/F2 (desktop run dialogs).
- Lock and system keys: CapsLock and NumLock (NumLock would turn the resident's tenkey into
  arrows), ScrollLock, PrintScreen (screenshots), Pause, ContextMenu.
- Any chord holding both Ctrl and Alt: denied (Ctrl+Alt+Backspace zaps the X server,
  Ctrl+Alt+Delete, Ctrl+Alt+T terminals, Ctrl+Alt+arrows workspace switching, XKB grab
  breaks).
- Ctrl + a letter: only A, C, V, X, Y, Z (editing) and R (reload). Everything else is denied:
  Ctrl+W/Q (close), T/N (new tab/window), L/K/E (address bar), P (print), O (open), S (save),
  U (source), H (history), J (downloads), D (bookmark), F/G (find), B, M, I, …
- Ctrl+Shift + a letter: only V (paste plain), Z (redo) and R (hard reload). Denied among
  others: Ctrl+Shift+I/J/C (devtools), Ctrl+Shift+Q/W (quit/close), Ctrl+Shift+T/N
  (reopen tab/incognito), Ctrl+Shift+B/O (bookmarks), Ctrl+Shift+M (profiles),
  Ctrl+Shift+Delete (clear browsing data), Ctrl+Shift+Tab.
- Ctrl + anything else: only Backspace, Delete (word delete; not with Shift), the arrows,
  Home, End (caret and selection) and Enter. Denied: Ctrl+Tab, Ctrl+PageUp/PageDown (tabs),
  Ctrl+1..9 (tab select), Ctrl+"+"/"-"/"="/"0"/";" (zoom), Ctrl+Escape, Ctrl+Space, …
- Alt + anything but ArrowDown/ArrowUp (open a <select>): denied. Covers Alt+Tab,
  Alt+Left/Right (history), Alt+Home (home page), Alt+D (address bar), Alt+F/E (menu),
  Alt+Space (window menu), Alt+Escape.
- Shift+Escape (Chromium task manager): denied.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Modifier(StrEnum):
    CTRL = "ctrl"
    ALT = "alt"
    SHIFT = "shift"
    META = "meta"


# X keysyms (X11/keysymdef.h) of the modifier keys the injector holds.
MODIFIER_KEYSYMS: dict[Modifier, int] = {
    Modifier.SHIFT: 0xFFE1,  # Shift_L
    Modifier.CTRL: 0xFFE3,  # Control_L
    Modifier.ALT: 0xFFE9,  # Alt_L
    Modifier.META: 0xFFEB,  # Super_L (always denied; here so the name resolves)
}

# Browser names of the modifier keys themselves.
MODIFIER_KEYS: dict[str, Modifier] = {
    "Shift": Modifier.SHIFT,
    "Control": Modifier.CTRL,
    "Alt": Modifier.ALT,
    "Meta": Modifier.META,
    "OS": Modifier.META,  # older Firefox name of the Windows/Super key
    "Super": Modifier.META,
    "Hyper": Modifier.META,
}

# Named keys (`KeyboardEvent.key`) to X keysyms.
NAMED_KEYSYMS: dict[str, int] = {
    "Enter": 0xFF0D,  # Return
    "Tab": 0xFF09,
    "Backspace": 0xFF08,  # BackSpace
    "Escape": 0xFF1B,
    "Delete": 0xFFFF,
    "Insert": 0xFF63,
    "Home": 0xFF50,
    "End": 0xFF57,
    "PageUp": 0xFF55,  # Prior
    "PageDown": 0xFF56,  # Next
    "ArrowLeft": 0xFF51,  # Left
    "ArrowUp": 0xFF52,  # Up
    "ArrowRight": 0xFF53,  # Right
    "ArrowDown": 0xFF54,  # Down
    "CapsLock": 0xFFE5,  # Caps_Lock
    "NumLock": 0xFF7F,  # Num_Lock
    "ScrollLock": 0xFF14,  # Scroll_Lock
    "PrintScreen": 0xFF61,  # Print
    "Pause": 0xFF13,
    "ContextMenu": 0xFF67,  # Menu
    **{f"F{n}": 0xFFBE + n - 1 for n in range(1, 25)},  # F1 = 0xFFBE … F24
}

# Japanese IME and composition keys: refused as unknown (the kiosk types ASCII only; the
# operator sends composed Japanese text never, IDs and numbers only).
IME_KEYS: frozenset[str] = frozenset(
    {
        "Convert",
        "NonConvert",
        "KanaMode",
        "KanjiMode",
        "HiraganaKatakana",
        "Hiragana",
        "Katakana",
        "Hankaku",
        "Zenkaku",
        "ZenkakuHankaku",
        "Eisu",
        "Alphanumeric",
        "Romaji",
        "Process",
        "Compose",
        "Dead",
        "AllCandidates",
        "CodeInput",
        "PreviousCandidate",
        "ModeChange",
    }
)

_ALWAYS_DENIED: frozenset[str] = frozenset(
    {f"F{n}" for n in range(1, 25) if n != 5}
    | {"CapsLock", "NumLock", "ScrollLock", "PrintScreen", "Pause", "ContextMenu"}
)
_CTRL_LETTERS = frozenset("ACVXYZR")
_CTRL_SHIFT_LETTERS = frozenset("VZR")
_CTRL_NAMED = frozenset(
    {"Backspace", "Delete", "ArrowLeft", "ArrowRight", "ArrowUp", "ArrowDown", "Home", "End"}
    | {"Enter"}
)
_CTRL_SHIFT_NAMED = frozenset(
    {"Backspace", "ArrowLeft", "ArrowRight", "ArrowUp", "ArrowDown", "Home", "End", "Enter"}
)
_ALT_NAMED = frozenset({"ArrowDown", "ArrowUp"})


@dataclass(frozen=True)
class ResolvedKey:
    """A browser key the kiosk can type. `name` is the browser's name; never log it for
    printable keys (they may spell an application ID)."""

    name: str
    keysym: int
    printable: bool
    modifier: Modifier | None = None


@dataclass(frozen=True)
class Chord:
    """A key with the modifiers held while it goes down, after the rules above. For a
    printable non-letter, Shift is not in `modifiers`: the keyboard map decides it."""

    key: ResolvedKey
    modifiers: frozenset[Modifier]

    def describe(self) -> str:
        """A name like "Ctrl+Alt+F2", for tests and docs (not for logging printable keys)."""
        order = (Modifier.CTRL, Modifier.ALT, Modifier.SHIFT, Modifier.META)
        parts = [m.value.capitalize() for m in order if m in self.modifiers]
        if self.key.modifier is None:
            parts.append(self.key.name)
        return "+".join(parts)


def is_printable(character: str) -> bool:
    return len(character) == 1 and 0x20 <= ord(character) <= 0x7E


def resolve_key(name: str) -> ResolvedKey | None:
    """The keysym of a browser key name, or None for keys the kiosk does not map."""
    if is_printable(name):
        # X keysyms of printable ASCII (Latin-1) equal their code points.
        return ResolvedKey(name=name, keysym=ord(name), printable=True)
    if name in MODIFIER_KEYS:
        modifier = MODIFIER_KEYS[name]
        keysym = MODIFIER_KEYSYMS[modifier]
        return ResolvedKey(name=name, keysym=keysym, printable=False, modifier=modifier)
    if name in IME_KEYS:
        return None
    named = NAMED_KEYSYMS.get(name)
    if named is None:
        return None
    return ResolvedKey(name=name, keysym=named, printable=False)


def resolve_chord(
    key: ResolvedKey, *, ctrl: bool, alt: bool, shift: bool, meta: bool, down: bool = True
) -> Chord:
    """The modifiers actually held while `key` goes down (or, for `down=False`, after a
    modifier key goes up)."""
    held = {
        m
        for m, on in (
            (Modifier.CTRL, ctrl),
            (Modifier.ALT, alt),
            (Modifier.SHIFT, shift),
            (Modifier.META, meta),
        )
        if on
    }
    if key.modifier is not None:
        if down:
            held.add(key.modifier)
        else:
            held.discard(key.modifier)
    if key.printable:
        character = key.name
        if Modifier.CTRL in held and Modifier.ALT in held and not character.isalnum():
            held -= {Modifier.CTRL, Modifier.ALT}  # AltGr, see the module docstring
        held.discard(Modifier.SHIFT)
        if character.isalpha() and character.isupper():
            held.add(Modifier.SHIFT)
    return Chord(key=key, modifiers=frozenset(held))


def is_denied(chord: Chord) -> bool:
    """True when the chord is on the deny-list (see the module docstring)."""
    key, mods = chord.key, chord.modifiers
    if Modifier.META in mods or key.modifier is Modifier.META:
        return True
    if key.name in _ALWAYS_DENIED:
        return True
    ctrl, alt, shift = Modifier.CTRL in mods, Modifier.ALT in mods, Modifier.SHIFT in mods
    if ctrl and alt:
        return True
    if key.modifier is not None:
        return False  # holding Ctrl, Alt or Shift alone does nothing
    if alt:
        return key.name not in _ALT_NAMED
    if ctrl:
        if key.printable and key.name.isalpha():
            allowed = _CTRL_SHIFT_LETTERS if shift else _CTRL_LETTERS
            return key.name.upper() not in allowed
        if key.printable:
            return True  # Ctrl+digit (tab select), Ctrl+"+"/"-"/"0" (zoom), Ctrl+Space, …
        return key.name not in (_CTRL_SHIFT_NAMED if shift else _CTRL_NAMED)
    return shift and key.name == "Escape"
