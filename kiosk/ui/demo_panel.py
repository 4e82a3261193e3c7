"""The demo's virtual hardware panel, shown beside the kiosk's screen in ``kiosk demo`` on a desktop.

It plays the patron's hands and the library's machines: books and cards to put on the RFID pad or
lift off it, a barcode scanner, the receipt printer's paper, the gate and light tower, and a switch
that takes the library system away. It is built against :class:`~kiosk.demo.panel_api.DemoPanelApi`
only, so what it does reaches the kiosk the way real hardware would (through the simulated devices'
own wire protocols).

Two threads meet here. The backend's actions may take a moment (stopping the simulated ILS joins
its server thread), so taps hand them to one worker thread, in order, and the kiosk's screen never
freezes on them. The backend's change reports arrive on whatever thread changed the world; they are
handed to the Kivy thread with ``Clock`` and the panel then reads the world afresh. The panel keeps
no copy of the world except whether it emptied the paper (the protocol has no getter for it).

The panel is a developer's tool and speaks English only: its words are not in the patron catalogs.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import kivy
from kivy.clock import Clock
from kivy.graphics import Color, Ellipse
from kivy.metrics import dp, sp
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.label import Label
from kivy.uix.widget import Widget

from kiosk.demo.panel_api import DemoPanelApi, SampleTag
from kiosk.ui.screens.blocks import EventButton, Panel, Words, column, scrolling
from kiosk.ui.theme import RGBA, STANDARD, Theme

log = logging.getLogger(__name__)

MONOSPACE = os.path.join(os.path.dirname(kivy.__file__), "data", "fonts", "RobotoMono-Regular.ttf")
LAMPS = (("green", (0.10, 0.70, 0.25, 1)), ("amber", (0.95, 0.65, 0.05, 1)), ("red", (0.85, 0.12, 0.12, 1)))
UNLIT: RGBA = (0.78, 0.78, 0.76, 1)


class Lamp(Widget):
    """One light of the tower: its colour when lit, grey when not."""

    def __init__(self, name: str, rgba: RGBA, **kwargs: Any) -> None:
        kwargs.setdefault("size_hint", (None, None))
        kwargs.setdefault("size", (dp(36), dp(36)))
        super().__init__(**kwargs)
        self.name = name
        self.rgba = rgba
        self.lit = False
        with self.canvas:
            self._paint = Color(*UNLIT)
            self._disc = Ellipse(pos=self.pos, size=self.size)
        self.bind(pos=self._place, size=self._place)

    def show(self, lit: bool) -> None:
        self.lit = lit
        self._paint.rgba = self.rgba if lit else UNLIT

    def _place(self, *_: object) -> None:
        self._disc.pos = self.pos
        self._disc.size = self.size


class DemoPanel(BoxLayout):
    """The panel. ``close()`` stops listening to the backend and ends the worker."""

    def __init__(self, api: DemoPanelApi, theme: Theme = STANDARD, **kwargs: Any) -> None:
        kwargs.setdefault("orientation", "vertical")
        super().__init__(**kwargs)
        self.api = api
        self.theme = theme
        self.paper_out = False
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="demo-panel")
        self._last: Future[None] | None = None
        self._refresh_due = False
        self._on_pad: frozenset[str] = frozenset()  # as last shown
        self._online = True  # as last shown
        self.tiles: dict[str, EventButton] = {}
        self.scan_buttons: dict[str, EventButton] = {}
        self._build()
        self.refresh()
        self._unsubscribe = api.subscribe(self._changed)

    # --- building ---------------------------------------------------------------------------

    def _build(self) -> None:
        theme = self.theme
        gap = dp(theme.spacing_dp)
        paint = Panel(theme.background, orientation="vertical", padding=gap, spacing=gap)
        paint.add_widget(Words("Demo hardware", theme, size="title", bold=True, size_hint_y=None))

        outputs = BoxLayout(orientation="horizontal", size_hint_y=None, height=dp(44), spacing=gap)
        self.gate = Words("", theme, bold=True)
        outputs.add_widget(self.gate)
        self.lamps = {name: Lamp(name, rgba) for name, rgba in LAMPS}
        for lamp in self.lamps.values():
            outputs.add_widget(lamp)
        paint.add_widget(outputs)

        switches = BoxLayout(orientation="horizontal", size_hint_y=None, height=dp(theme.button_dp), spacing=gap)
        self.ils_switch = self._button("", lambda: self._do(self.api.set_ils_online, not self._online),
                                       size="small", key="ils")
        self.paper_switch = self._button("", self._toggle_paper, size="small", key="paper")
        switches.add_widget(self.ils_switch)
        switches.add_widget(self.paper_switch)
        paint.add_widget(switches)

        shelf = column(theme)
        shelf.add_widget(Words("Books: tap to put on the pad or lift off", theme, size="small",
                               color=theme.muted, size_hint_y=None))
        for tag in self.api.books():
            shelf.add_widget(self._tag_row(tag))
        shelf.add_widget(Words("Patron cards", theme, size="small", color=theme.muted, size_hint_y=None))
        for tag in self.api.cards():
            shelf.add_widget(self._tag_row(tag))

        # TextInput imports the Window: not at this module's import, the app configures the window first.
        from kivy.uix.textinput import TextInput

        typed = BoxLayout(orientation="horizontal", size_hint_y=None, height=dp(theme.button_dp), spacing=gap)
        self.barcode = TextInput(multiline=False, hint_text="any barcode", font_name=theme.font_name,
                                 font_size=sp(theme.text_sp), padding=(dp(8), dp(20)))
        self.barcode.bind(on_text_validate=lambda *_: self._scan_typed())
        self.scan_typed = self._button("Scan", self._scan_typed, size="small", size_hint_x=None, width=dp(110))
        typed.add_widget(self.barcode)
        typed.add_widget(self.scan_typed)
        shelf.add_widget(typed)

        shelf_view = scrolling(shelf)
        shelf_view.size_hint_y = 0.62
        paint.add_widget(shelf_view)

        # The receipt has its own scrolling slot, so the latest one is in view whatever the shelf shows.
        self.receipt_title = Words("", theme, size="small", color=theme.muted, size_hint_y=None)
        paint.add_widget(self.receipt_title)
        paper = column(theme, padding=dp(10))
        paint_paper = Panel(theme.surface, orientation="vertical", size_hint_y=0.38)
        self.receipt = Label(text="", font_name=MONOSPACE if os.path.isfile(MONOSPACE) else theme.font_name,
                             font_size=sp(13), color=theme.text, halign="left", valign="top", size_hint_y=None)
        self.receipt.bind(width=lambda w, v: setattr(w, "text_size", (v, None)),
                          texture_size=lambda w, v: setattr(w, "height", v[1]))
        paper.add_widget(self.receipt)
        paint_paper.add_widget(scrolling(paper))
        paint.add_widget(paint_paper)
        self.status = Words("", theme, size="small", color=theme.error, size_hint_y=None)
        paint.add_widget(self.status)
        self.add_widget(paint)

    def _tag_row(self, tag: SampleTag) -> Widget:
        row = BoxLayout(orientation="horizontal", size_hint_y=None, height=dp(self.theme.row_dp),
                        spacing=dp(self.theme.spacing_dp) / 2)
        parts = f"  ({tag.parts} parts)" if tag.parts > 1 else ""
        tile = self._button(f"{tag.label}\n{tag.id}{parts}", lambda: self._toggle(tag.id), size="small",
                            size_hint_y=1, key=f"tag:{tag.id}")
        self.tiles[tag.id] = tile
        scan = self._button("Scan", lambda: self._do(self.api.scan, tag.id), size="small", size_hint_y=1,
                            size_hint_x=None, width=dp(96), key=f"scan:{tag.id}")
        self.scan_buttons[tag.id] = scan
        row.add_widget(tile)
        row.add_widget(scan)
        return row

    def _button(self, text: str, on_tap: Callable[[], object], **kwargs: Any) -> EventButton:
        return EventButton(text, self.theme, on_tap, **kwargs)

    # --- what taps do ---------------------------------------------------------------------

    def _toggle(self, tag_id: str) -> None:
        self._do(self.api.lift if tag_id in self._on_pad else self.api.place, tag_id)

    def _toggle_paper(self) -> None:
        self.paper_out = not self.paper_out
        self._do(self.api.set_paper_out, self.paper_out)
        self._show_switches()

    def _scan_typed(self) -> None:
        barcode = self.barcode.text.strip()
        if barcode:
            self._do(self.api.scan, barcode)
            self.barcode.text = ""

    def _do(self, action: Callable[..., object], *args: Any) -> None:
        """Run a backend action on the worker, then show the world as it is after it."""
        self.status.text = ""

        def run() -> None:
            try:
                action(*args)
            except Exception as exc:  # a failed demo action must not take the kiosk's screen down
                log.exception("demo panel: %s%r failed", getattr(action, "__name__", action), args)
                message = f"{getattr(action, '__name__', 'action')} failed: {exc!r}"
                Clock.schedule_once(lambda _dt: setattr(self.status, "text", message), 0)
            self._changed()

        self._last = self._worker.submit(run)

    def settle(self, timeout: float = 5.0) -> None:
        """Wait until every action handed to the worker so far has run (tests; an orderly close)."""
        if self._last is not None:
            self._last.result(timeout)

    def close(self) -> None:
        self._unsubscribe()
        self._worker.shutdown(wait=False, cancel_futures=True)

    # --- showing the world ----------------------------------------------------------------

    def _changed(self) -> None:
        """From any thread: read the world again on the Kivy thread (once, however many reports)."""
        if not self._refresh_due:
            self._refresh_due = True
            Clock.schedule_once(lambda _dt: self.refresh(), 0)

    def on_pad(self) -> frozenset[str]:
        """The books and cards the panel shows on the pad (highlighted)."""
        return self._on_pad

    def refresh(self) -> None:
        self._refresh_due = False
        self._on_pad = frozenset(self.api.on_pad())
        for tag_id, tile in self.tiles.items():
            tile.set_role("primary" if tag_id in self._on_pad else "secondary")
        outputs = self.api.outputs()
        gate_open = bool(outputs.get("gate_open"))
        self.gate.text = "Gate: open" if gate_open else "Gate: closed"
        self.gate.color = self.theme.success if gate_open else self.theme.muted
        for name, lamp in self.lamps.items():
            lamp.show(bool(outputs.get(name)))
        receipts = self.api.receipts()
        self.receipt_title.text = f"Receipts printed: {len(receipts)}" + (" — the latest:" if receipts else "")
        self.receipt.text = receipts[-1] if receipts else "(no receipt printed yet)"
        self._show_switches()

    def _show_switches(self) -> None:
        self._online = self.api.ils_online()
        self.ils_switch.text = "ILS offline: off" if self._online else "ILS offline: ON"
        self.ils_switch.set_role("secondary" if self._online else "danger")
        self.paper_switch.text = "Paper out: ON" if self.paper_out else "Paper out: off"
        self.paper_switch.set_role("danger" if self.paper_out else "secondary")
