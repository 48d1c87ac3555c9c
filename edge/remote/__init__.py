"""Remote control: the operator's pointer and keyboard drive the kiosk's X display.

`keys` maps browser key names to X keysyms and holds the deny-list, `policy` decides
(enabled, PIN-entry blocks, rate limits), `injector` injects with XTEST, `control` ties them
together for the call's data channel. See docs/remote-control.md.
"""

from edge.remote.control import Injector, RemoteControl
from edge.remote.injector import InjectionError, XTestInjector
from edge.remote.policy import Decision, RateLimits, RemoteControlGate

__all__ = [
    "Decision",
    "InjectionError",
    "Injector",
    "RateLimits",
    "RemoteControl",
    "RemoteControlGate",
    "XTestInjector",
]
