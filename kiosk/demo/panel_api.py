"""What the demo's hardware panel may do to the simulated world, and nothing more.

The demo (``kiosk demo``) shows the kiosk's screen next to a panel that plays the patron's hands
and the library's machines: books and cards to put on the RFID pad or lift off it, a barcode
scanner, the receipt printer's paper, the gate and light tower, and a switch that takes the
library system offline. The panel widget is built against this protocol only, so it never reaches
into ``hardware_mocks`` or the kiosk's internals: everything it does goes through the simulated
devices' own wire protocols, which the kiosk's production drivers read. ``DemoHardware``
(:mod:`kiosk.demo.hardware`) implements it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

TagKind = Literal["item", "card"]


@dataclass(frozen=True, slots=True)
class SampleTag:
    """One thing from the sample library the panel can put on the pad: a book (DVD set, audiobook...)
    or a patron card. ``id`` is its barcode (what the tag holds), ``label`` what the panel shows (a
    title, a patron's name), ``parts`` how many tags it carries (a 3-CD audiobook has 3)."""

    id: str
    label: str
    kind: TagKind
    parts: int = 1


#: A change listener: called with no arguments on whatever thread the change happened on (the
#: printer's, the pad's, the panel's own); a Kivy widget hands it to its thread with ``Clock``.
Listener = Callable[[], None]


@runtime_checkable
class DemoPanelApi(Protocol):
    """The simulated world as the demo panel sees it. Every method is safe from any thread."""

    def books(self) -> list[SampleTag]:
        """The sample library's items the panel offers, in a stable order."""
        ...

    def cards(self) -> list[SampleTag]:
        """The sample library's patron cards the panel offers (their PINs are in the README)."""
        ...

    def on_pad(self) -> frozenset[str]:
        """Ids of the books and cards lying on the pad now."""
        ...

    def place(self, id: str) -> None:
        """Put a book (every part of it) or a card on the pad; ``KeyError`` for an id not offered."""
        ...

    def lift(self, id: str) -> None:
        """Take a book (every part) or a card off the pad; nothing happens if it is not there."""
        ...

    def scan(self, barcode: str) -> None:
        """Scan a barcode with the simulated scanner (any text: a wrong barcode is a real case)."""
        ...

    def receipts(self) -> list[str]:
        """Every receipt and slip the printer cut off so far, oldest first, as the paper reads."""
        ...

    def outputs(self) -> dict[str, bool]:
        """The installation's outputs now: ``gate_open``, ``green``, ``amber``, ``red``."""
        ...

    def ils_online(self) -> bool:
        """Whether the simulated library system answers."""
        ...

    def set_ils_online(self, online: bool) -> None:
        """Take the library system away (the kiosk then works under its offline policy) or back."""
        ...

    def set_paper_out(self, out: bool) -> None:
        """Empty the printer's paper roll, or load a new one."""
        ...

    def subscribe(self, callback: Listener) -> Callable[[], None]:
        """Hear about every change the panel shows (pad, receipts, outputs, ILS, paper); returns the
        function that stops it."""
        ...
