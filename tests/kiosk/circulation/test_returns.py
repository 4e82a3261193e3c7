"""The returns bin's decisions: every path, then 100-item runs with answers in random order."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass

import pytest
from circulation_drive import feed, only, uid
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

from kiosk.circulation.commands import CheckIn, Command, PrintSlip, RouteToBin, SetSecurity
from kiosk.circulation.events import (
    BinFull,
    CardPresented,
    Event,
    IlsFailed,
    ItemDropped,
    PinEntered,
    Pressed,
    Printed,
    ReturnAnswered,
    Routed,
    SecuritySet,
    TimerFired,
)
from kiosk.circulation.model import Alert, Failure, FailureKind, ReturnAnswer
from kiosk.circulation.returns import (
    MESSAGES,
    ReturnsBinMachine,
    ReturnsState,
    Stage,
    choose_bin,
    judge,
)
from kiosk.config import ReturnsSettings

UID = uid(1)
HOLDER = "Ada Lovelace"


def machine(**overrides: object) -> ReturnsBinMachine:
    return ReturnsBinMachine(ReturnsSettings(**overrides))


def answer(item_id: str = "it-1", **fields: object) -> ReturnAnswer:
    fields.setdefault("ok", True)
    fields.setdefault("title", "A Book")
    return ReturnAnswer(item_id=item_id, **fields)


def drop_and_answer(m: ReturnsBinMachine, state: ReturnsState, ans: ReturnAnswer, uids=(UID,), ref="d1"):
    state, cmds = feed(m, state, ItemDropped(ref, ans.item_id, uids))
    checkin = only(CheckIn, cmds)
    state, cmds = feed(m, state, ReturnAnswered(checkin.ref, ans))
    return state, cmds


# --- the happy path -----------------------------------------------------------------------------


def test_start_shows_every_bin_empty_and_the_slot_open():
    m = machine(sort_bins={"4": "media"})
    state, cmds = m.start()
    assert cmds == []
    assert dict(state.counts) == {"holds": 0, "transit": 0, "reshelve": 0, "exceptions": 0, "media": 0}
    assert state.accepting
    assert state.sign == ("returns.open", {})


def test_a_returned_book_is_checked_in_secured_and_routed_to_reshelve():
    m = machine()
    state, _ = m.start()
    state, cmds = feed(m, state, ItemDropped("d1", "it-1", (UID,)))
    checkin = only(CheckIn, cmds)
    assert checkin.item_id == "it-1"
    assert state.in_flight[0].stage is Stage.CHECKING_IN

    state, cmds = feed(m, state, ReturnAnswered(checkin.ref, answer()))
    security = only(SetSecurity, cmds)
    assert security.uids == (UID,) and security.on_loan is False
    assert not [c for c in cmds if isinstance(c, RouteToBin)], "routed before the security was verified"

    state, cmds = feed(m, state, SecuritySet(security.ref, ok=True))
    route = only(RouteToBin, cmds)
    assert route.bin == "reshelve"
    assert state.count("reshelve") == 0, "counted before the diverter confirmed"

    state, cmds = feed(m, state, Routed(route.ref, ok=True))
    assert cmds == []
    assert state.count("reshelve") == 1
    assert state.in_flight == () and state.exceptions == ()
    assert state.routed_total == 1


# --- which bin ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("alert", "expected"),
    [
        (Alert.HOLD_HERE, "hold-shelf"),
        (Alert.HOLD_OTHER_BRANCH, "hold-away"),
        (Alert.TRANSIT, "going-home"),
        (Alert.NONE, "shelf"),
        (Alert.OTHER, "staff"),
    ],
)
def test_the_alert_type_picks_the_bin(alert, expected):
    s = ReturnsSettings(
        hold_here_bin="hold-shelf",
        hold_other_branch_bin="hold-away",
        transit_bin="going-home",
        reshelve_bin="shelf",
        exceptions_bin="staff",
    )
    assert choose_bin(answer(alert=alert), s) == expected


def test_the_ils_sort_bin_wins_over_the_alert_type_and_unmapped_codes_fall_back():
    s = ReturnsSettings(sort_bins={"4": "media", "1": "holds"})
    assert choose_bin(answer(sort_bin="4", alert=Alert.TRANSIT), s) == "media"
    assert choose_bin(answer(sort_bin="4", alert=Alert.OTHER), s) == "media"
    assert choose_bin(answer(sort_bin="7", alert=Alert.TRANSIT), s) == "transit"
    assert choose_bin(answer(sort_bin="", alert=Alert.NONE), s) == "reshelve"


# --- ok=0: not on loan, unknown, refused --------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"ok": True, "messages": ("Overdue fine 2.00 EUR",)}, ""),
        ({"ok": False}, ""),  # Koha's default for an item that was not on loan: no text at all
        ({"ok": False, "messages": ("Item not checked out",)}, ""),  # SIPServer-style wording
        ({"ok": False, "messages": ("ITEM NOT ON LOAN",)}, ""),
        (
            {"ok": False, "title": "", "alert": Alert.OTHER, "messages": ("Item not found",)},
            "returns.unknown_item",
        ),
        ({"ok": False, "title": ""}, "returns.unknown_item"),
        ({"ok": False, "alert": Alert.OTHER}, "returns.refused"),  # Koha CV 99: withdrawn, hold blocks...
        ({"ok": False, "messages": ("Item is withdrawn",)}, "returns.refused"),
        ({"ok": False, "messages": ("Item not checked out", "Please contact staff")}, "returns.refused"),
        ({"ok": False, "was_on_loan_to": "P123"}, "returns.refused"),
    ],
)
def test_judge_tells_not_on_loan_from_unknown_and_refused(fields, reason):
    verdict = judge(answer(**fields), ReturnsSettings())
    assert verdict.reason == reason
    assert verdict.sortable == (reason == "")
    if reason:
        assert verdict.detail == "; ".join(fields.get("messages", ()))


def test_judge_refuses_not_on_loan_when_the_site_does_not_accept_it():
    verdict = judge(answer(ok=False), ReturnsSettings(accept_not_on_loan=False))
    assert verdict.reason == "returns.not_on_loan"
    # An unknown item stays "unknown" whatever the setting: staff need the real reason.
    assert judge(answer(ok=False, title=""), ReturnsSettings(accept_not_on_loan=False)).reason == (
        "returns.unknown_item"
    )


def test_judge_notes_are_configurable():
    ans = answer(ok=False, messages=("Exemplar ist nicht ausgeliehen",))
    assert judge(ans, ReturnsSettings()).reason == "returns.refused"
    assert judge(ans, ReturnsSettings(), ("nicht ausgeliehen",)).sortable


def test_an_item_that_was_not_on_loan_is_sorted_as_if_ok():
    m = machine()
    state, _ = m.start()
    state, cmds = drop_and_answer(
        m,
        state,
        answer(ok=False, alert=Alert.HOLD_HERE, messages=("Item not checked out",), hold_patron_name=HOLDER),
    )
    security = only(SetSecurity, cmds)
    assert only(PrintSlip, cmds).kind == "hold"
    state, cmds = feed(m, state, SecuritySet(security.ref, ok=True))
    assert only(RouteToBin, cmds).bin == "holds"
    assert state.exceptions == ()


def test_an_unknown_item_goes_to_exceptions_without_touching_security():
    # Perhaps another library's book: its tag is not ours to write.
    ans = answer(ok=False, title="", alert=Alert.OTHER, messages=("Item not found",))
    m = machine()
    state, _ = m.start()
    state, cmds = drop_and_answer(m, state, ans)
    assert not [c for c in cmds if isinstance(c, SetSecurity | PrintSlip)]
    route = only(RouteToBin, cmds)
    assert route.bin == "exceptions"
    (exc,) = state.exceptions
    assert (exc.item_id, exc.bin, exc.reason) == ("it-1", "exceptions", "returns.unknown_item")
    assert exc.detail == "; ".join(ans.messages)
    state, _ = feed(m, state, Routed(route.ref, ok=True))
    assert state.count("exceptions") == 1


def test_a_refused_item_is_armed_on_its_way_to_exceptions():
    # The library's own book, now inside the library: armed even though the ILS refused the return,
    # so it cannot walk out past the gate before staff reach the exceptions bin.
    ans = answer(ok=False, messages=("Item withdrawn: see staff",))
    m = machine()
    state, _ = m.start()
    state, cmds = drop_and_answer(m, state, ans)
    security = only(SetSecurity, cmds)
    assert security.uids == (UID,) and not security.on_loan
    assert not [c for c in cmds if isinstance(c, RouteToBin | PrintSlip)]  # armed first, then routed
    (exc,) = state.exceptions
    assert (exc.item_id, exc.bin, exc.reason) == ("it-1", "exceptions", "returns.refused")
    state, cmds = feed(m, state, SecuritySet(security.ref, ok=True))
    route = only(RouteToBin, cmds)
    assert route.bin == "exceptions"
    state, _ = feed(m, state, Routed(route.ref, ok=True))
    assert state.count("exceptions") == 1 and len(state.exceptions) == 1


def test_not_on_loan_goes_to_exceptions_when_the_site_says_so():
    m = machine(accept_not_on_loan=False)
    state, _ = m.start()
    state, cmds = drop_and_answer(m, state, answer(ok=False))
    assert state.exceptions[0].reason == "returns.not_on_loan"
    security = only(SetSecurity, cmds)  # a known item, in the library: armed on the way
    state, cmds = feed(m, state, SecuritySet(security.ref, ok=True))
    assert only(RouteToBin, cmds).bin == "exceptions"


def test_an_unreadable_item_goes_straight_to_exceptions_with_its_uid_for_staff():
    m = machine()
    state, _ = m.start()
    state, cmds = feed(m, state, ItemDropped("d1", "", (UID,)))
    assert not [c for c in cmds if isinstance(c, CheckIn)]
    route = only(RouteToBin, cmds)
    assert route.bin == "exceptions"
    (exc,) = state.exceptions
    assert exc.reason == "returns.unreadable" and exc.detail == UID.hex().upper()
    state, _ = feed(m, state, Routed(route.ref, ok=True))
    assert state.count("exceptions") == 1


def test_an_ils_failure_sends_the_item_to_exceptions_with_the_kind():
    m = machine()
    state, _ = m.start()
    state, cmds = feed(m, state, ItemDropped("d1", "it-1", (UID,)))
    checkin = only(CheckIn, cmds)
    failure = Failure(FailureKind.OUTCOME_UNKNOWN, "answer lost")
    state, cmds = feed(m, state, IlsFailed(checkin.ref, failure))
    (exc,) = state.exceptions
    assert exc.reason == "returns.ils_failed"
    assert "outcome unknown" in exc.detail and "answer lost" in exc.detail
    # whatever the ILS did, the book is inside the library now: armed, then to staff
    security = only(SetSecurity, cmds)
    assert security.uids == (UID,) and not security.on_loan
    state, cmds = feed(m, state, SecuritySet(security.ref, ok=True))
    assert only(RouteToBin, cmds).bin == "exceptions"


def test_a_failed_security_write_sends_the_item_to_exceptions():
    m = machine()
    state, _ = m.start()
    state, cmds = drop_and_answer(m, state, answer())
    security = only(SetSecurity, cmds)
    state, cmds = feed(m, state, SecuritySet(security.ref, ok=False, failed_uids=(UID,), detail="no answer"))
    assert only(RouteToBin, cmds).bin == "exceptions"
    (exc,) = state.exceptions
    assert exc.reason == "returns.security_failed"
    assert UID.hex().upper() in exc.detail and "no answer" in exc.detail


def test_an_item_without_a_tag_needs_no_security_write():
    m = machine()
    state, _ = m.start()
    state, cmds = drop_and_answer(m, state, answer(alert=Alert.TRANSIT), uids=())
    assert not [c for c in cmds if isinstance(c, SetSecurity)]
    assert only(RouteToBin, cmds).bin == "transit"


def test_an_unexplained_ils_alert_is_checked_in_secured_and_shown_to_staff():
    m = machine()
    state, cmds = drop_and_answer(m, m.start()[0], answer(alert=Alert.OTHER, messages=("Check the item",)))
    security = only(SetSecurity, cmds)
    assert state.exceptions[0].reason == "returns.ils_alert"
    assert state.exceptions[0].detail == "Check the item"
    state, cmds = feed(m, state, SecuritySet(security.ref, ok=True))
    assert only(RouteToBin, cmds).bin == "exceptions"


def test_a_sort_bin_mapped_to_exceptions_is_listed_for_staff():
    m = machine(sort_bins={"5": "exceptions"})
    state, cmds = drop_and_answer(m, m.start()[0], answer(sort_bin="5"))
    assert state.exceptions[0].reason == "returns.sorted_to_exceptions"
    state, cmds = feed(m, state, SecuritySet(only(SetSecurity, cmds).ref, ok=True))
    assert only(RouteToBin, cmds).bin == "exceptions"


# --- slips --------------------------------------------------------------------------------------


def slip_text(slip: PrintSlip) -> list[str]:
    return [line.text for line in slip.lines]


def test_a_hold_here_prints_a_hold_slip_with_the_holders_name_but_the_state_never_holds_it():
    m = machine()
    state, cmds = drop_and_answer(
        m,
        m.start()[0],
        answer(
            alert=Alert.HOLD_HERE, hold_patron_name=HOLDER, hold_patron_id="P0001234", was_on_loan_to="P999"
        ),
    )
    slip = only(PrintSlip, cmds)
    assert slip.kind == "hold"
    assert slip_text(slip) == [MESSAGES["slip.hold"], "A Book", f"For: {HOLDER}", "Item: it-1"]
    assert HOLDER not in repr(state) and "P0001234" not in repr(state) and "P999" not in repr(state)
    state, cmds = feed(m, state, SecuritySet(only(SetSecurity, cmds).ref, ok=True))
    assert only(RouteToBin, cmds).bin == "holds"
    assert HOLDER not in repr(state)


def test_a_hold_for_another_branch_names_the_pickup_place_and_masks_a_bare_patron_id():
    m = machine()
    _, cmds = drop_and_answer(
        m, m.start()[0], answer(alert=Alert.HOLD_OTHER_BRANCH, destination="North", hold_patron_id="P0001234")
    )
    text = slip_text(only(PrintSlip, cmds))
    assert "For: ****1234" in text and "Pick up at: North" in text
    assert not any("P0001234" in t for t in text)


def test_a_transit_prints_a_transit_slip_with_the_destination():
    m = machine()
    _, cmds = drop_and_answer(m, m.start()[0], answer(alert=Alert.TRANSIT, destination="Central"))
    slip = only(PrintSlip, cmds)
    assert slip.kind == "transit"
    assert slip_text(slip) == [MESSAGES["slip.transit"], "A Book", "To: Central", "Item: it-1"]


@pytest.mark.parametrize("alert", [Alert.NONE, Alert.OTHER])
def test_no_slip_without_a_hold_or_transit(alert):
    m = machine()
    _, cmds = drop_and_answer(m, m.start()[0], answer(alert=alert))
    assert not [c for c in cmds if isinstance(c, PrintSlip)]


def test_no_slips_when_the_site_turned_them_off():
    m = machine(slips=False)
    _, cmds = drop_and_answer(m, m.start()[0], answer(alert=Alert.HOLD_HERE, hold_patron_name=HOLDER))
    assert not [c for c in cmds if isinstance(c, PrintSlip)]


def test_a_slip_that_did_not_print_is_noted_and_the_item_still_routes():
    m = machine()
    state, cmds = drop_and_answer(m, m.start()[0], answer(alert=Alert.HOLD_HERE, hold_patron_name=HOLDER))
    slip, security = only(PrintSlip, cmds), only(SetSecurity, cmds)
    state, cmds = feed(m, state, SecuritySet(security.ref, ok=True))
    route = only(RouteToBin, cmds)
    state, _ = feed(m, state, Routed(route.ref, ok=True), Printed(slip.ref, ok=False, detail="paper out"))
    assert state.count("holds") == 1
    (exc,) = state.exceptions
    assert (exc.item_id, exc.bin, exc.reason, exc.detail) == (
        "it-1",
        "holds",
        "returns.slip_not_printed",
        "paper out",
    )
    assert state.pending_slips == ()
    # The same answer again changes nothing.
    assert feed(m, state, Printed(slip.ref, ok=False))[0] == state


def test_a_printed_slip_leaves_no_trace():
    m = machine()
    state, cmds = drop_and_answer(m, m.start()[0], answer(alert=Alert.TRANSIT))
    state, _ = feed(m, state, Printed(only(PrintSlip, cmds).ref, ok=True))
    assert state.pending_slips == () and state.exceptions == ()


# --- arrival order at the diverter --------------------------------------------------------------


def test_an_item_answered_first_waits_for_the_item_ahead_of_it():
    m = machine()
    state, _ = m.start()
    state, c1 = feed(m, state, ItemDropped("d1", "first", (b"\x01",)))
    state, c2 = feed(m, state, ItemDropped("d2", "second", (b"\x02",)))
    state, cmds = feed(m, state, ReturnAnswered(only(CheckIn, c2).ref, answer("second", alert=Alert.TRANSIT)))
    state, cmds = feed(m, state, SecuritySet(only(SetSecurity, cmds).ref, ok=True))
    assert not [c for c in cmds if isinstance(c, RouteToBin)], "overtook the item ahead"
    assert [i.stage for i in state.in_flight] == [Stage.CHECKING_IN, Stage.SORTED]

    state, cmds = feed(m, state, ReturnAnswered(only(CheckIn, c1).ref, answer("first")))
    state, cmds = feed(m, state, SecuritySet(only(SetSecurity, cmds).ref, ok=True))
    first_route = only(RouteToBin, cmds)
    assert first_route.bin == "reshelve"
    state, cmds = feed(m, state, Routed(first_route.ref, ok=True))
    assert only(RouteToBin, cmds).bin == "transit"


def test_a_new_drop_while_one_is_routing_is_checked_in_at_once():
    m = machine()
    state, cmds = drop_and_answer(m, m.start()[0], answer())
    state, cmds = feed(m, state, SecuritySet(only(SetSecurity, cmds).ref, ok=True))
    only(RouteToBin, cmds)
    state, cmds = feed(m, state, ItemDropped("d2", "it-2", (b"\x02",)))
    assert only(CheckIn, cmds).item_id == "it-2"


def test_a_repeated_drop_report_and_stray_answers_are_ignored():
    m = machine()
    state, cmds = feed(m, m.start()[0], ItemDropped("d1", "it-1", (UID,)))
    checkin = only(CheckIn, cmds)
    same, cmds = feed(m, state, ItemDropped("d1", "it-1", (UID,)))
    assert same == state and cmds == []
    for stray in (
        ReturnAnswered("nope", answer()),
        SecuritySet(checkin.ref, ok=True),  # the checkin's ref, but it is no security answer
        Routed(checkin.ref, ok=True),
        Printed("nope", ok=False),
        IlsFailed("nope", Failure(FailureKind.UNREACHABLE, "x")),
        PinEntered("1234"),
        CardPresented("P1"),
        TimerFired("whatever"),
        Pressed("no_such_button"),
        Pressed("bin_emptied", "no_such_bin"),
    ):
        assert m.step(state, stray) == (state, []), stray


# --- full bins, faults, staff -------------------------------------------------------------------


def route_one(m: ReturnsBinMachine, state: ReturnsState, ref: str, ans: ReturnAnswer) -> ReturnsState:
    state, cmds = drop_and_answer(m, state, ans, ref=ref)
    state, cmds = feed(m, state, SecuritySet(only(SetSecurity, cmds).ref, ok=True))
    state, _ = feed(m, state, Routed(only(RouteToBin, cmds).ref, ok=True))
    return state


def test_a_bin_at_capacity_closes_the_slot_until_staff_empty_it():
    m = machine(bin_capacity=2)
    state, _ = m.start()
    state = route_one(m, state, "d1", answer("a"))
    assert state.accepting
    state = route_one(m, state, "d2", answer("b"))
    assert not state.accepting
    assert state.full_bins == ("reshelve",)
    assert state.sign == ("returns.closed.bin_full", {"bins": "reshelve"})
    assert MESSAGES[state.sign[0]].format(**state.sign[1]) == "Bin full — returns closed (reshelve)"

    # An item already in the slot when it closed is still processed, never lost.
    state = route_one(m, state, "d3", answer("c", alert=Alert.TRANSIT))
    assert state.count("transit") == 1

    state, cmds = feed(m, state, Pressed("bin_emptied", "reshelve"))
    assert cmds == []
    assert state.count("reshelve") == 0 and state.count("transit") == 1
    assert state.accepting and state.sign == ("returns.open", {})


def test_a_bin_sensor_closes_and_reopens_the_slot():
    m = machine()
    state, _ = m.start()
    state, _ = feed(m, state, BinFull("holds", True))
    assert not state.accepting and state.full_bins == ("holds",)
    state, _ = feed(m, state, BinFull("transit", True))
    assert state.sign == ("returns.closed.bin_full", {"bins": "holds, transit"})
    state, _ = feed(m, state, BinFull("holds", False))
    assert state.full_bins == ("transit",)
    state, _ = feed(m, state, Pressed("bin_emptied", "transit"))
    assert state.accepting


def test_a_sensor_on_a_bin_the_config_does_not_name_still_closes_the_slot():
    m = machine()
    state, _ = feed(m, m.start()[0], BinFull("overflow", True))
    assert state.full_bins == ("overflow",)
    state, _ = feed(m, state, Pressed("bin_emptied", "overflow"))
    assert state.accepting


def test_a_diverter_failure_stops_routing_and_intake_until_staff_clear_it():
    m = machine()
    state, _ = m.start()
    state, c1 = feed(m, state, ItemDropped("d1", "", (b"\x01",)))
    state, c2 = feed(m, state, ItemDropped("d2", "", (b"\x02",)))
    assert len([c for c in c1 + c2 if isinstance(c, RouteToBin)]) == 1
    state, cmds = feed(m, state, Routed(only(RouteToBin, c1).ref, ok=False, detail="jammed"))
    assert cmds == []
    assert not state.accepting and state.sign == ("returns.closed.fault", {"detail": "jammed"})
    assert state.exceptions[-1].reason == "returns.route_failed" and state.exceptions[-1].detail == "jammed"
    assert state.count("exceptions") == 0
    state, cmds = feed(m, state, Pressed("fault_cleared"))
    assert state.accepting
    route = only(RouteToBin, cmds)
    state, _ = feed(m, state, Routed(route.ref, ok=True))
    assert state.count("exceptions") == 1 and state.in_flight == ()


def test_only_staff_clear_the_exceptions_list():
    m = machine()
    state, _ = feed(m, m.start()[0], ItemDropped("d1", "", ()))
    assert len(state.exceptions) == 1
    state, _ = feed(m, state, Pressed("bin_emptied", "exceptions"))
    assert len(state.exceptions) == 1
    state, _ = feed(m, state, Pressed("exceptions_cleared"))
    assert state.exceptions == ()


# --- 100 items, answers in any order ------------------------------------------------------------

SORT_BINS = {"4": "media"}
ALERT_BIN = {
    Alert.NONE: "reshelve",
    Alert.HOLD_HERE: "holds",
    Alert.HOLD_OTHER_BRANCH: "transit",
    Alert.TRANSIT: "transit",
    Alert.OTHER: "exceptions",
}


@dataclass(frozen=True)
class Scenario:
    """One dropped item and how the world will answer for it."""

    kind: str  # ok | not_on_loan | unknown | refused | unreadable | ils_failed
    alert: Alert
    sort_bin: str
    tagged: bool
    security_ok: bool
    slip_ok: bool

    def sortable(self) -> bool:
        # An ok=0 answer with alert type OTHER (CV 99) is a refusal, not "not on loan".
        return self.kind == "ok" or (self.kind == "not_on_loan" and self.alert is not Alert.OTHER)

    def expected_bin(self) -> str:
        if not self.sortable():
            return "exceptions"
        if self.tagged and not self.security_ok:
            return "exceptions"
        return SORT_BINS.get(self.sort_bin) or ALERT_BIN[self.alert]

    def slip_expected(self) -> bool:
        return self.sortable() and self.alert in (Alert.HOLD_HERE, Alert.HOLD_OTHER_BRANCH, Alert.TRANSIT)

    def expects_exception(self) -> bool:
        return self.expected_bin() == "exceptions" or (self.slip_expected() and not self.slip_ok)

    def answer(self, item_id: str) -> ReturnAnswer:
        secret = {"hold_patron_name": f"Holder {item_id}", "hold_patron_id": f"HP{item_id}"}
        if self.kind == "unknown":
            return ReturnAnswer(item_id, ok=False, alert=Alert.OTHER, messages=("Item not found",))
        if self.kind == "refused":
            return ReturnAnswer(item_id, ok=False, title="T", messages=("Withdrawn",))
        return ReturnAnswer(
            item_id,
            ok=self.kind == "ok",
            title=f"Title {item_id}",
            sort_bin=self.sort_bin,
            alert=self.alert,
            **secret,
        )


scenarios = st.builds(
    Scenario,
    kind=st.sampled_from(["ok", "ok", "ok", "not_on_loan", "unknown", "refused", "unreadable", "ils_failed"]),
    alert=st.sampled_from(list(Alert)),
    sort_bin=st.sampled_from(["", "", "4", "9"]),
    tagged=st.booleans() | st.just(True),
    security_ok=st.booleans() | st.just(True),
    slip_ok=st.booleans() | st.just(True),
)


class World:
    """Drops the items in order and answers the machine's commands in an order chosen by ``rng``;
    the diverter is a queue of items in the order they entered the slot, as in the machine."""

    def __init__(self, items: list[Scenario], rng: random.Random):
        self.items = items
        self.rng = rng
        self.m = ReturnsBinMachine(ReturnsSettings(sort_bins=SORT_BINS, bin_capacity=100000))
        self.state, _ = self.m.start()
        self.outstanding: list[tuple[Command, int]] = []
        self.dropped = 0
        self.at_diverter: list[int] = []  # item indexes, arrival order
        self.routed: Counter[str] = Counter()
        self.route_order: list[int] = []
        self.armed: list[int] = []

    def item_id(self, i: int) -> str:
        return f"it-{i}"

    def step(self, event: Event, owner: int) -> None:
        before = self.state.exceptions
        self.state, cmds = self.m.step(self.state, event)
        assert self.state.exceptions[: len(before)] == before, "an exception disappeared"
        for name in (f"Holder it-{owner}", f"HPit-{owner}"):
            assert name not in repr(self.state)
        for cmd in cmds:
            self.outstanding.append((cmd, self.at_diverter[0] if isinstance(cmd, RouteToBin) else owner))

    def drop_next(self) -> None:
        i = self.dropped
        self.dropped += 1
        self.at_diverter.append(i)
        sc = self.items[i]
        item_id = "" if sc.kind == "unreadable" else self.item_id(i)
        uids = (i.to_bytes(8, "big"),) if sc.tagged else ()
        self.step(ItemDropped(f"drop-{i}", item_id, uids), i)

    def answer(self, cmd: Command, i: int) -> None:
        sc = self.items[i]
        match cmd:
            case CheckIn():
                assert cmd.item_id == self.item_id(i)
                if sc.kind == "ils_failed":
                    self.step(IlsFailed(cmd.ref, Failure(FailureKind.UNREACHABLE, "down")), i)
                else:
                    self.step(ReturnAnswered(cmd.ref, sc.answer(cmd.item_id)), i)
            case SetSecurity():
                assert cmd.uids == (i.to_bytes(8, "big"),) and not cmd.on_loan
                self.armed.append(i)
                self.step(SecuritySet(cmd.ref, ok=sc.security_ok), i)
            case PrintSlip():
                self.step(Printed(cmd.ref, ok=sc.slip_ok), i)
            case RouteToBin():
                head = self.at_diverter.pop(0)
                assert head == i
                assert cmd.bin == sc.expected_bin(), (i, sc)
                self.route_order.append(head)
                self.routed[cmd.bin] += 1
                self.step(Routed(cmd.ref, ok=True), i)
            case _:
                raise AssertionError(f"unexpected command {cmd}")

    def run(self) -> None:
        while self.dropped < len(self.items) or self.outstanding:
            if self.dropped < len(self.items) and (not self.outstanding or self.rng.random() < 0.3):
                self.drop_next()
            else:
                cmd, owner = self.outstanding.pop(self.rng.randrange(len(self.outstanding)))
                self.answer(cmd, owner)


# No shrinking: shrinking a 100-item run takes minutes, and each assertion names the item and its scenario.
@settings(max_examples=40, phases=[Phase.explicit, Phase.reuse, Phase.generate])
@given(items=st.lists(scenarios, min_size=100, max_size=100), seed=st.integers(0, 2**32))
def test_a_hundred_items_are_routed_in_arrival_order_counted_and_no_exception_is_lost(items, seed):
    world = World(items, random.Random(seed))
    world.run()
    state = world.state
    expected = Counter(sc.expected_bin() for sc in items)
    assert world.route_order == list(range(100))
    assert {b: n for b, n in state.counts if n} == dict(expected)
    assert dict(world.routed) == dict(expected)
    assert state.routed_total == 100
    assert state.in_flight == () and state.pending_slips == ()
    listed = Counter(e.seq for e in state.exceptions)
    for seq, sc in enumerate(items, start=1):
        assert (seq in listed) == sc.expects_exception(), (seq, sc, state.exceptions)
    # every tagged item the library knows is armed once, whatever its checkin said
    ours = [i for i, sc in enumerate(items) if sc.tagged and sc.kind not in ("unknown", "unreadable")]
    assert sorted(world.armed) == ours


# --- random events: never an exception, invariants hold -----------------------------------------

ITEM_IDS = st.sampled_from(["", "a", "b"])
REFS = st.sampled_from(
    [f"rb-{n}-{w}" for n in range(1, 5) for w in ("checkin", "security", "route", "slip")] + ["x"]
)
odd_events = st.one_of(
    st.builds(
        ItemDropped,
        st.sampled_from(["d1", "d2", "d3", "d4"]),
        ITEM_IDS,
        st.lists(st.binary(min_size=1, max_size=2), max_size=2).map(tuple),
    ),
    st.builds(
        ReturnAnswered,
        REFS,
        st.builds(
            ReturnAnswer,
            ITEM_IDS,
            st.booleans(),
            title=st.sampled_from(["", "T"]),
            sort_bin=st.sampled_from(["", "4"]),
            alert=st.sampled_from(list(Alert)),
            hold_patron_name=st.just(HOLDER),
            messages=st.lists(st.sampled_from(["Item not checked out", "No"]), max_size=2).map(tuple),
        ),
    ),
    st.builds(IlsFailed, REFS, st.builds(Failure, st.sampled_from(list(FailureKind)), st.just("d"))),
    st.builds(SecuritySet, REFS, st.booleans()),
    st.builds(Routed, REFS, st.booleans()),
    st.builds(Printed, REFS, st.booleans()),
    st.builds(BinFull, st.sampled_from(["holds", "reshelve", "odd"]), st.booleans()),
    st.builds(
        Pressed,
        st.sampled_from(["bin_emptied", "fault_cleared", "exceptions_cleared", "x"]),
        st.sampled_from(["", "holds", "reshelve", "exceptions", "odd"]),
    ),
    st.builds(TimerFired, st.just("t")),
)


@settings(max_examples=300)
@given(events=st.lists(odd_events, max_size=40))
def test_random_event_sequences_keep_the_invariants(events):
    m = ReturnsBinMachine(ReturnsSettings(sort_bins={"4": "media"}, bin_capacity=2))
    state, _ = m.start()
    for event in events:
        before = state
        state, cmds = m.step(state, event)
        if not (isinstance(event, Pressed) and event.action == "exceptions_cleared"):
            assert state.exceptions[: len(before.exceptions)] == before.exceptions
        assert HOLDER not in repr(state)
        MESSAGES[state.sign[0]].format(**state.sign[1])
        assert all(e.reason in MESSAGES for e in state.exceptions)
        seqs = [i.seq for i in state.in_flight]
        assert seqs == sorted(seqs)
        routing = [n for n, i in enumerate(state.in_flight) if i.stage is Stage.ROUTING]
        assert routing in ([], [0]), "only the head of the queue is ever at the diverter"
        assert sum(n for _, n in state.counts) <= state.routed_total
        assert state.accepting == (not state.full_bins and not state.fault)
        for cmd in cmds:
            if isinstance(cmd, RouteToBin):
                assert state.in_flight[0].stage is Stage.ROUTING and state.in_flight[0].bin == cmd.bin


def test_a_return_recorded_offline_goes_to_staff_with_its_reason():
    m = machine()
    state, cmds = drop_and_answer(m, m.start()[0], answer(offline=True))
    assert state.exceptions[0].reason == "returns.offline"
    assert any(isinstance(c, SetSecurity) and not c.on_loan for c in cmds)  # security back on all the same
