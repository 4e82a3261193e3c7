"""Staff mode's screens: PIN, menu, devices, offline queue, device tests, leaving the kiosk, and
tag programming.

Each screen shows one :class:`~kiosk.circulation.staff.Screen` of the station's ``staff`` state and
posts the staff actions of ``kiosk/circulation/staff.py``; what those actions do (and whether they
are honoured now) is the staff machine's business. The PIN is the one thing held here, and only
until OK is tapped: it never enters any state.

Staff words are translated like the patron's (a library's staff may not read English), but are
written for staff: device names and the console command to run are shown as they are.
"""

from __future__ import annotations

from typing import Any

from kivy.metrics import dp
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.gridlayout import GridLayout
from kivy.uix.widget import Widget

from kiosk.circulation.events import PinEntered, Pressed
from kiosk.circulation.model import Pad
from kiosk.circulation.staff import MAX_PARTS, OPEN_GATE, DeviceRow, DeviceTest, Screen, StaffState, Step, TagJob
from kiosk.circulation.station import KioskState, ReturnsStationState
from kiosk.ui.context import Translator, UiContext
from kiosk.ui.screens.blocks import (
    EventButton,
    Panel,
    RenderedScreen,
    Words,
    column,
    header,
    scrolling,
    spacer,
    status_colour,
)
from kiosk.ui.screens.returns_bin import BinsView, bins_panel, slot_sign
from kiosk.ui.theme import Theme

Station = KioskState | ReturnsStationState

MAX_PIN_DIGITS = 12
MASK = "\u25cf"  # ●, in DejaVuSans


def component_name(tr: Translator, component: str) -> str:
    """A device's name as staff call it; a component this table does not know shows as reported."""
    names = {
        "reader": tr.text("RFID reader"),
        "printer": tr.text("Receipt printer"),
        "ils": tr.text("Library system (ILS)"),
        "gpio": tr.text("Gate, lights and sensors"),
        "scanner": tr.text("Barcode scanner"),
    }
    return names.get(component, component)


def state_word(tr: Translator, state: str) -> str:
    words = {"ok": tr.text("OK"), "warning": tr.text("Warning"), "failed": tr.text("Failed")}
    return words.get(state, state)


class StaffScreen(RenderedScreen):
    """The frame every logged-in staff screen shares: a header with the title and Log out (always
    reachable), the body, and a footer with Back."""

    back = True

    def view(self, state: Station) -> object:
        return self.staff_view(state.staff)

    def staff_view(self, staff: StaffState) -> object:
        raise NotImplementedError

    def title(self, tr: Translator) -> str:
        raise NotImplementedError

    def body(self, view: Any, ui: UiContext) -> Widget:
        raise NotImplementedError

    def back_enabled(self, view: Any) -> bool:
        return True

    def build(self, view: Any, ui: UiContext) -> Widget:
        theme, tr = ui.theme, ui.tr
        root = Panel(theme.background, orientation="vertical", spacing=dp(theme.spacing_dp))
        logout = self.button(tr.text("Log out"), Pressed("logout"), role="quiet", size_hint_x=None,
                             width=dp(180), height=theme.button_dp - 16)
        root.add_widget(header(theme, self.title(tr), logout, badge=tr.text("Staff mode")))
        content = BoxLayout(orientation="vertical", spacing=dp(theme.spacing_dp),
                            padding=(dp(theme.spacing_dp), 0, dp(theme.spacing_dp), dp(theme.spacing_dp)))
        content.add_widget(self.body(view, ui))
        if self.back:
            footer = BoxLayout(orientation="horizontal", size_hint_y=None, height=dp(theme.button_dp))
            back = self.button(tr.text("Back"), Pressed("back"), size_hint_x=None, width=dp(200))
            back.disabled = not self.back_enabled(view)
            footer.add_widget(back)
            footer.add_widget(spacer())
            content.add_widget(footer)
        root.add_widget(content)
        return root


def _notice(theme: Theme, tr: Translator, notice: tuple[str, dict[str, str]] | None,
            *, colour: tuple[float, float, float, float] | None = None) -> Words:
    text = tr.message_id(notice[0], **notice[1]) if notice else ""
    return Words(text, theme, color=colour or theme.error, bold=True, size_hint_y=None)


# --- login ------------------------------------------------------------------------------------


class StaffPinScreen(RenderedScreen):
    """The staff PIN on a large numeric keypad. The digits stay in this widget until OK, shown
    masked; they are dropped as soon as they are sent, so a second tap on OK cannot send them
    again (a second wrong PIN would count towards the lockout)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("name", "staff_pin")
        super().__init__(**kwargs)
        self.digits = ""
        self._display: Words | None = None
        self._keys: list[EventButton] = []

    def view(self, state: Station) -> object:
        staff = state.staff
        return staff.notice, staff.locked_out, staff.failures

    def build(self, view: Any, ui: UiContext) -> Widget:
        notice, locked_out, _ = view
        theme, tr = ui.theme, ui.tr
        self.digits = ""
        root = Panel(theme.background, orientation="vertical", spacing=dp(theme.spacing_dp))
        root.add_widget(header(theme, tr.message_id("staff.pin"), badge=tr.text("Staff mode")))
        body = BoxLayout(orientation="horizontal", spacing=dp(2 * theme.spacing_dp),
                         padding=(dp(2 * theme.spacing_dp), 0, dp(2 * theme.spacing_dp), dp(theme.spacing_dp)))

        left = BoxLayout(orientation="vertical", spacing=dp(theme.spacing_dp))
        left.add_widget(Words(tr.text("Enter the staff PIN, then OK."), theme, size_hint_y=None))
        shown = Panel(theme.surface, size_hint_y=None, height=dp(theme.button_dp + 16), padding=dp(8))
        self._display = Words("", theme, size="huge", halign="center")
        shown.add_widget(self._display)
        left.add_widget(shown)
        left.add_widget(_notice(theme, tr, notice))
        left.add_widget(spacer())
        left.add_widget(self.button(tr.text("Cancel"), Pressed("cancel")))
        body.add_widget(left)

        keypad = GridLayout(cols=3, spacing=dp(theme.spacing_dp))
        self._keys = []
        labels = [*"123456789"]
        for digit in labels:
            keypad.add_widget(self._key(theme, digit, f"digit:{digit}", lambda d=digit: self.press(d), "secondary"))
        keypad.add_widget(self._key(theme, tr.text("Delete"), "delete", self.delete, "quiet"))
        keypad.add_widget(self._key(theme, "0", "digit:0", lambda: self.press("0"), "secondary"))
        keypad.add_widget(self._key(theme, tr.text("OK"), "ok", self.submit, "primary"))
        for key in self._keys:
            key.disabled = locked_out
        body.add_widget(keypad)
        root.add_widget(body)
        self._show()
        return root

    def _key(self, theme: Theme, text: str, key: str, on_tap: Any, role: str) -> EventButton:
        button = EventButton(text, theme, on_tap, role=role, key=key, size="title", size_hint_y=1,
                              height=theme.keypad_dp)
        self._keys.append(button)
        return button

    def press(self, digit: str) -> None:
        if len(self.digits) < MAX_PIN_DIGITS:
            self.digits += digit
            self._show()

    def delete(self) -> None:
        self.digits = self.digits[:-1]
        self._show()

    def submit(self) -> None:
        if not self.digits:
            return
        pin, self.digits = self.digits, ""
        self._show()
        self.send(PinEntered(pin))

    def _show(self) -> None:
        if self._display is not None:
            self._display.text = MASK * len(self.digits)


# --- the menu -----------------------------------------------------------------------------------


class StaffMenuScreen(StaffScreen):
    """The menu, with a summary of what needs attention. At a returns station it also holds the
    bins panel: the bin's actions are staff's (the station takes them only while staff are logged
    in), so this is where staff empty bins and clear exceptions and the sorter's fault."""

    back = False

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("name", "staff_menu")
        super().__init__(**kwargs)

    def view(self, state: Station) -> object:
        staff = state.staff
        bins = BinsView.of(state.returns) if isinstance(state, ReturnsStationState) else None
        return (staff.devices, staff.offline_queue, staff.out_of_service, staff.notice, state.online, bins,
                staff.withheld)

    def title(self, tr: Translator) -> str:
        return tr.text("Staff menu")

    def body(self, view: Any, ui: UiContext) -> Widget:
        devices, queue, out_of_service, notice, online, bins, withheld = view
        theme, tr = ui.theme, ui.tr
        body = BoxLayout(orientation="horizontal", spacing=dp(2 * theme.spacing_dp))
        summary = self._summary(devices, queue, out_of_service, notice, online, ui)
        if bins is None:
            summary.size_hint_x = 0.42
            body.add_widget(summary)
            body.add_widget(self._entries(out_of_service, withheld, ui, compact=False))
            return body
        work = BoxLayout(orientation="vertical", spacing=dp(theme.spacing_dp), size_hint_x=0.7)
        work.add_widget(slot_sign(theme, tr, bins.sign, height=56))
        work.add_widget(bins_panel(self, ui, bins, staff=True))
        body.add_widget(work)
        menu = BoxLayout(orientation="vertical", spacing=dp(theme.spacing_dp), size_hint_x=0.3)
        menu.add_widget(self._entries(out_of_service, withheld, ui, compact=True))
        menu.add_widget(summary)
        body.add_widget(menu)
        return body

    def _summary(self, devices: tuple[DeviceRow, ...], queue: Any, out_of_service: bool,
                 notice: tuple[str, dict[str, str]] | None, online: bool, ui: UiContext) -> Widget:
        theme, tr = ui.theme, ui.tr
        summary = column(theme, padding=dp(theme.spacing_dp))
        counts = {state: sum(1 for row in devices if row.state == state) for state in ("ok", "warning", "failed")}
        if not devices:
            line, colour = tr.text("No device has reported yet"), theme.muted
        elif counts["failed"] or counts["warning"]:
            line = tr.text("Devices: {ok} OK, {warning} warning, {failed} failed", **counts)
            colour = theme.error if counts["failed"] else theme.attention
        else:
            line, colour = tr.text("All devices OK ({ok})", ok=counts["ok"]), theme.success
        summary.add_widget(Words(line, theme, color=colour, bold=True, size_hint_y=None))
        for row in devices:
            if row.state != "ok":
                words = tr.text("{device}: {state}", device=component_name(tr, row.component),
                                state=state_word(tr, row.state))
                summary.add_widget(Words(words, theme, size="small", color=status_colour(theme, row.state),
                                         size_hint_y=None))
        summary.add_widget(Words(
            tr.text("Library system: online") if online else tr.text("Library system: OFFLINE"),
            theme, color=theme.text if online else theme.error, size_hint_y=None))
        summary.add_widget(Words(
            tr.text("Offline queue: {waiting} waiting, {needs_staff} need staff",
                    waiting=queue.waiting, needs_staff=queue.needs_staff),
            theme, color=theme.error if queue.needs_staff else theme.text, size_hint_y=None))
        summary.add_widget(Words(
            tr.text("This kiosk is OUT OF SERVICE") if out_of_service else tr.text("This kiosk is in service"),
            theme, color=theme.error if out_of_service else theme.success, bold=True, size_hint_y=None))
        if notice:
            summary.add_widget(_notice(theme, tr, notice, colour=theme.attention))
        board = Panel(theme.surface, radius=8)
        board.add_widget(scrolling(summary))
        return board

    def _entries(self, out_of_service: bool, withheld: frozenset[str], ui: UiContext, *, compact: bool) -> Widget:
        """The menu's buttons, less those the station does not offer (``StaffState.withheld``: the
        station machine decides); ``compact`` (beside the bins) in small words on lower buttons."""
        theme, tr = ui.theme, ui.tr
        look: dict[str, Any] = {"size": "small", "height": theme.button_dp - 16} if compact else {}
        grid = GridLayout(cols=2, spacing=dp(theme.spacing_dp), size_hint_y=None)
        grid.bind(minimum_height=grid.setter("height"))
        for text, name in (
            (tr.text("Devices"), "devices"),
            (tr.text("Offline queue"), "offline_queue"),
            (tr.text("Reader test"), "reader_test"),
            (tr.text("Printer test"), "printer_test"),
            (tr.text("Tag programming"), "program"),
        ):
            if name in withheld:
                continue
            grid.add_widget(self.button(text, Pressed("open", name), role="primary", **look))
        if OPEN_GATE not in withheld:  # only where a gate opens on request (the staff machine says)
            grid.add_widget(self.button(tr.text("Open the gate"), Pressed(OPEN_GATE), **look))
        if out_of_service:
            toggle = self.button(tr.text("Out of service: ON"), Pressed("out_of_service"), role="danger", **look)
        else:
            toggle = self.button(tr.text("Out of service: off"), Pressed("out_of_service"), **look)
        grid.add_widget(toggle)
        if "leave" not in withheld:
            grid.add_widget(self.button(tr.text("Leave the kiosk"), Pressed("open", "leave"), **look))
        if compact:
            return grid
        buttons = BoxLayout(orientation="vertical")
        buttons.add_widget(grid)
        buttons.add_widget(spacer())
        return buttons


# --- devices and the offline queue --------------------------------------------------------------


class StaffDevicesScreen(StaffScreen):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("name", "staff_devices")
        super().__init__(**kwargs)

    def staff_view(self, staff: StaffState) -> object:
        return staff.devices

    def title(self, tr: Translator) -> str:
        return tr.text("Devices")

    def body(self, view: tuple[DeviceRow, ...], ui: UiContext) -> Widget:
        theme, tr = ui.theme, ui.tr
        rows = column(theme)
        if not view:
            rows.add_widget(Words(tr.text("No device has reported yet"), theme, color=theme.muted,
                                  size_hint_y=None))
        for row in view:
            rows.add_widget(self._row(theme, tr, row))
        return scrolling(rows)

    @staticmethod
    def _row(theme: Theme, tr: Translator, row: DeviceRow) -> Widget:
        line = Panel(theme.surface, radius=8, orientation="horizontal", size_hint_y=None, height=dp(theme.row_dp),
                     padding=dp(theme.spacing_dp), spacing=dp(theme.spacing_dp))
        chip = Panel(status_colour(theme, row.state), radius=6, size_hint_x=None, width=dp(150))
        chip.add_widget(Words(state_word(tr, row.state), theme, color=theme.on_primary, bold=True, halign="center"))
        line.add_widget(chip)
        line.add_widget(Words(component_name(tr, row.component), theme, bold=True, size_hint_x=0.4))
        if row.component == "ils" and row.state == "ok" and row.reason:
            # An ILS that answers without error reports only its last round trip ("42 ms").
            reason = tr.text("Response time: {latency}", latency=row.reason)
        else:
            reason = row.reason
        line.add_widget(Words(reason, theme, size="small", color=theme.muted, size_hint_x=0.6))
        line.row = row  # for tests and debugging: which report this line shows
        return line


class StaffOfflineQueueScreen(StaffScreen):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("name", "staff_offline_queue")
        super().__init__(**kwargs)

    def view(self, state: Station) -> object:
        return state.staff.offline_queue, state.online

    def title(self, tr: Translator) -> str:
        return tr.text("Offline queue")

    def body(self, view: Any, ui: UiContext) -> Widget:
        queue, online = view
        theme, tr = ui.theme, ui.tr
        body = BoxLayout(orientation="vertical", spacing=dp(theme.spacing_dp))
        figures = BoxLayout(orientation="horizontal", spacing=dp(theme.spacing_dp), size_hint_y=None,
                            height=dp(150))
        for label, value, colour in (
            (tr.text("Waiting to be sent"), str(queue.waiting), theme.text),
            (tr.text("Need staff"), str(queue.needs_staff), theme.error if queue.needs_staff else theme.text),
            (tr.text("Oldest waiting since"), queue.oldest or "\u2014", theme.text),
        ):
            tile = Panel(theme.surface, radius=8, orientation="vertical", padding=dp(theme.spacing_dp))
            tile.add_widget(Words(label, theme, size="small", color=theme.muted, halign="center"))
            tile.add_widget(Words(value, theme, size="title", color=colour, bold=True, halign="center"))
            figures.add_widget(tile)
        body.add_widget(figures)
        body.add_widget(Words(
            tr.text("Waiting transactions are sent by themselves once the library system answers.")
            if online else
            tr.text("The library system is offline now: transactions wait until it answers again."),
            theme, size_hint_y=None))
        body.add_widget(Words(
            tr.text("Transactions the library system refused, or whose outcome is unknown, need staff: "
                    "run “{command}” on the kiosk's console to see them, then retry or resolve each one.",
                    command="kiosk queue report"),
            theme, size_hint_y=None))
        body.add_widget(spacer())
        return body


# --- device tests -----------------------------------------------------------------------------


class _DeviceTestScreen(StaffScreen):
    component = ""

    def staff_view(self, staff: StaffState) -> object:
        return staff.test

    def body(self, view: DeviceTest | None, ui: UiContext) -> Widget:
        theme, tr = ui.theme, ui.tr
        body = BoxLayout(orientation="vertical", spacing=dp(theme.spacing_dp))
        name = component_name(tr, view.component if view else self.component)
        if view is None:
            text, colour = tr.text("No test has run yet"), theme.muted
        elif view.ok is None:
            text, colour = tr.message_id("staff.test_running", component=name), theme.attention
        elif view.ok:
            text, colour = tr.message_id("staff.test_ok", component=name, detail=view.detail), theme.success
        else:
            text, colour = tr.message_id("staff.test_failed", component=name, detail=view.detail), theme.error
        result = Panel(colour, radius=8, padding=dp(2 * theme.spacing_dp), size_hint_y=None, height=dp(180))
        result.add_widget(Words(text, theme, size="title", color=theme.on_primary, bold=True, halign="center"))
        body.add_widget(result)
        body.add_widget(Words(self.explanation(tr), theme, color=theme.muted, size_hint_y=None))
        body.add_widget(spacer())
        again = BoxLayout(orientation="horizontal", size_hint_y=None, height=dp(theme.button_dp))
        again.add_widget(spacer())
        again.add_widget(self.button(tr.text("Test again"), Pressed("retest"), role="primary",
                                     size_hint_x=None, width=dp(260)))
        body.add_widget(again)
        return body

    def explanation(self, tr: Translator) -> str:
        raise NotImplementedError


class StaffReaderTestScreen(_DeviceTestScreen):
    component = "reader"

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("name", "staff_reader_test")
        super().__init__(**kwargs)

    def title(self, tr: Translator) -> str:
        return tr.text("Reader test")

    def explanation(self, tr: Translator) -> str:
        return tr.text("The reader takes an inventory: this proves the cable, the reader and its antenna, "
                       "and counts the tags in its field.")


class StaffPrinterTestScreen(_DeviceTestScreen):
    component = "printer"

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("name", "staff_printer_test")
        super().__init__(**kwargs)

    def title(self, tr: Translator) -> str:
        return tr.text("Printer test")

    def explanation(self, tr: Translator) -> str:
        return tr.text("The printer prints a test page: check that it came out and is readable.")


# --- leaving the kiosk ------------------------------------------------------------------------


class StaffConfirmLeaveScreen(StaffScreen):
    back = False  # "Stay" is the way back, next to the confirmation

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("name", "staff_confirm_leave")
        super().__init__(**kwargs)

    def staff_view(self, staff: StaffState) -> object:
        return ()

    def title(self, tr: Translator) -> str:
        return tr.text("Leave the kiosk")

    def body(self, view: Any, ui: UiContext) -> Widget:
        theme, tr = ui.theme, ui.tr
        body = BoxLayout(orientation="vertical", spacing=dp(2 * theme.spacing_dp), padding=(dp(40), dp(20)))
        body.add_widget(Words(tr.text("Leave the kiosk application?"), theme, size="title", bold=True,
                              size_hint_y=None))
        body.add_widget(Words(tr.text("Patrons cannot use this kiosk until the application is started again."),
                              theme, size_hint_y=None))
        body.add_widget(spacer())
        choice = BoxLayout(orientation="horizontal", spacing=dp(2 * theme.spacing_dp), size_hint_y=None,
                           height=dp(theme.button_dp))
        choice.add_widget(self.button(tr.text("Stay"), Pressed("back"), role="primary"))
        choice.add_widget(self.button(tr.text("Leave the kiosk"), Pressed("confirm"), role="danger"))
        body.add_widget(choice)
        return body


# --- tag programming ----------------------------------------------------------------------------


class StaffProgramScreen(StaffScreen):
    """The tag-programming loop, one step at a time: on the left what to do now, on the right the
    number of parts and what was programmed since login."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("name", "staff_program")
        super().__init__(**kwargs)

    def staff_view(self, staff: StaffState) -> object:
        return staff.job, _tags_on(staff.pad), staff.programmed, staff.notice

    def title(self, tr: Translator) -> str:
        return tr.text("Tag programming")

    def back_enabled(self, view: Any) -> bool:
        job: TagJob = view[0]
        return job.step is not Step.WRITING

    def body(self, view: Any, ui: UiContext) -> Widget:
        job, tags, programmed, notice = view
        theme, tr = ui.theme, ui.tr
        body = BoxLayout(orientation="horizontal", spacing=dp(2 * theme.spacing_dp))
        body.add_widget(self._step(job, tags, notice, ui))

        side = BoxLayout(orientation="vertical", spacing=dp(theme.spacing_dp), size_hint_x=0.38)
        side.add_widget(self._parts(job, ui))
        side.add_widget(Words(tr.text("Programmed since login: {count}", count=len(programmed)), theme,
                              bold=True, size_hint_y=None))
        done = column(theme, spacing=dp(4))
        for item_id in reversed(programmed):
            done.add_widget(Words(item_id, theme, size="small", size_hint_y=None))
        side.add_widget(scrolling(done))
        body.add_widget(side)
        return body

    def _step(self, job: TagJob, tags: int, notice: tuple[str, dict[str, str]] | None, ui: UiContext) -> Widget:
        theme, tr = ui.theme, ui.tr
        parts = str(job.parts_in_set)
        part = str(job.part)
        step = Panel(theme.surface, radius=8, orientation="vertical", spacing=dp(theme.spacing_dp),
                     padding=dp(2 * theme.spacing_dp))
        colour = theme.text
        if job.step is Step.SCAN:
            what = tr.message_id("staff.program.scan", parts=parts)
        elif job.step is Step.PLACE:
            what = tr.message_id("staff.program.place", part=part, parts=parts)
        elif job.step is Step.CONFIRM_OVERWRITE:
            what = tr.message_id("staff.program.holds_other", other=job.other_item, item_id=job.item_id)
            colour = theme.attention
        elif job.step is Step.WRITING:
            what = tr.message_id("staff.program.writing", part=part, parts=parts)
        else:
            what = tr.message_id("staff.program.write_failed", detail=job.detail)
            colour = theme.error
        step.add_widget(Words(what, theme, size="title", bold=True, color=colour, size_hint_y=None))
        if job.item_id:
            step.add_widget(Words(tr.text("Item {item_id}", item_id=job.item_id), theme, size_hint_y=None))
        if job.written:
            step.add_widget(Words(tr.text("Tags written: {written} of {parts}", written=len(job.written),
                                          parts=parts), theme, size_hint_y=None))
        step.add_widget(Words(tr.text("Tags on the pad: {count}", count=tags), theme, size="small",
                              color=theme.muted, size_hint_y=None))
        if notice:
            done = notice[0] == "staff.program.done"
            step.add_widget(_notice(theme, tr, notice, colour=theme.success if done else theme.attention))
        step.add_widget(spacer())
        actions = BoxLayout(orientation="horizontal", spacing=dp(theme.spacing_dp), size_hint_y=None,
                            height=dp(theme.button_dp))
        if job.step is Step.CONFIRM_OVERWRITE:
            actions.add_widget(self.button(tr.text("Keep it"), Pressed("cancel")))
            actions.add_widget(self.button(tr.text("Overwrite"), Pressed("confirm_overwrite"), role="danger"))
        elif job.step is Step.FAILED:
            actions.add_widget(self.button(tr.text("Cancel this item"), Pressed("cancel_item")))
            actions.add_widget(self.button(tr.text("Retry"), Pressed("retry"), role="primary"))
        elif job.step is Step.PLACE:
            actions.add_widget(self.button(tr.text("Cancel this item"), Pressed("cancel_item")))
            actions.add_widget(spacer())
        if actions.children:
            step.add_widget(actions)
        return step

    def _parts(self, job: TagJob, ui: UiContext) -> Widget:
        """Parts in the set: only while no tag of the item is written (the machine ignores it after)."""
        theme, tr = ui.theme, ui.tr
        box = Panel(theme.surface, radius=8, orientation="vertical", size_hint_y=None,
                    height=dp(theme.button_dp * 2 + 3 * theme.spacing_dp), padding=dp(theme.spacing_dp),
                    spacing=dp(theme.spacing_dp) / 2)
        box.add_widget(Words(tr.text("Parts in this item's set"), theme, size="small", color=theme.muted))
        row = BoxLayout(orientation="horizontal", spacing=dp(theme.spacing_dp), size_hint_y=None,
                        height=dp(theme.button_dp))
        changeable = job.step is not Step.WRITING and not job.written
        n = job.parts_in_set
        fewer = self.button("\u2212", Pressed("parts", str(n - 1)), size="title", size_hint_x=None,
                            width=dp(theme.button_dp))
        fewer.disabled = not changeable or n <= 1
        more = self.button("+", Pressed("parts", str(n + 1)), size="title", size_hint_x=None,
                           width=dp(theme.button_dp))
        more.disabled = not changeable or n >= MAX_PARTS
        row.add_widget(fewer)
        row.add_widget(Words(str(n), theme, size="title", bold=True, halign="center"))
        row.add_widget(more)
        box.add_widget(row)
        return box


def _tags_on(pad: Pad) -> int:
    """Tags on the pad that could take data: item tags and unreadable (blank or foreign) ones."""
    return len({*(item.uid for item in pad.items), *pad.unreadable})


STAFF_SCREENS: dict[Screen, type[RenderedScreen]] = {
    Screen.PIN: StaffPinScreen,
    Screen.MENU: StaffMenuScreen,
    Screen.DEVICES: StaffDevicesScreen,
    Screen.OFFLINE_QUEUE: StaffOfflineQueueScreen,
    Screen.READER_TEST: StaffReaderTestScreen,
    Screen.PRINTER_TEST: StaffPrinterTestScreen,
    Screen.CONFIRM_LEAVE: StaffConfirmLeaveScreen,
    Screen.PROGRAM: StaffProgramScreen,
}
"""The screen class for each staff screen (every one but CLOSED, when the patron screens show)."""
