"""The returns bin started from what it remembered (:class:`Remembered`): the machine is handed the
values, never the file, so a restart is a pure function of them."""

from __future__ import annotations

from circulation_drive import uid
from hypothesis import given
from hypothesis import strategies as st

from kiosk.circulation.commands import CheckIn, RouteToBin, SetSecurity
from kiosk.circulation.events import ItemDropped, Pressed, ReturnAnswered, Routed, SecuritySet
from kiosk.circulation.model import ReturnAnswer
from kiosk.circulation.returns import Remembered, ReturnException, ReturnsBinMachine, ReturnsState
from kiosk.config import ReturnsSettings

UID = uid(7)
REFUSED = ReturnException(7, "31234000000305", "exceptions", "returns.refused", "Item is lost", "The Hobbit")
UNREADABLE = ReturnException(9, "", "exceptions", "returns.unreadable", "E004010000000009")


def started(remembered: Remembered, **settings: object) -> ReturnsState:
    state, commands = ReturnsBinMachine(ReturnsSettings(**settings), remembered=remembered).start()
    assert commands == []
    return state


def test_the_counts_exceptions_and_fault_come_back_as_they_were() -> None:
    state = started(Remembered((("holds", 12), ("reshelve", 40)), (REFUSED, UNREADABLE), "jammed at bin 2"))
    assert dict(state.counts) == {"holds": 12, "transit": 0, "reshelve": 40, "exceptions": 0}
    assert state.exceptions == (REFUSED, UNREADABLE)
    assert state.fault == "jammed at bin 2"
    assert not state.accepting and state.sign == ("returns.closed.fault", {"detail": "jammed at bin 2"})
    assert state.in_flight == () and state.routed_total == 0


def test_a_bin_remembered_at_capacity_keeps_the_slot_closed_until_staff_empty_it() -> None:
    m = ReturnsBinMachine(ReturnsSettings(bin_capacity=30), remembered=Remembered((("transit", 30),)))
    state, _ = m.start()
    assert state.full_bins == ("transit",) and not state.accepting
    state, _ = m.step(state, Pressed("bin_emptied", "transit"))
    assert state.count("transit") == 0 and state.accepting


def test_a_bin_the_settings_no_longer_name_is_forgotten_and_new_bins_start_at_zero() -> None:
    state = started(Remembered((("media", 5), ("holds", 2))), sort_bins={"4": "periodicals"})
    assert dict(state.counts) == {"holds": 2, "transit": 0, "reshelve": 0, "exceptions": 0, "periodicals": 0}
    # an exception naming a bin that is gone is still listed: the item is physically there
    state = started(Remembered(exceptions=(ReturnException(3, "i", "media", "returns.refused"),)))
    assert [e.bin for e in state.exceptions] == ["media"]


def test_new_items_are_numbered_after_the_remembered_exceptions() -> None:
    m = ReturnsBinMachine(ReturnsSettings(), remembered=Remembered(exceptions=(REFUSED, UNREADABLE)))
    state, _ = m.start()
    state, commands = m.step(state, ItemDropped("drop-1", "31234000000016", (UID,)))
    (checkin,) = commands
    assert isinstance(checkin, CheckIn)
    assert state.in_flight[0].seq == 10 and checkin.ref == "rb-10-checkin"
    state, _ = m.step(state, ItemDropped("drop-2", "", (UID + b"x",)))
    assert [e.seq for e in state.exceptions] == [7, 9, 11]  # each exception keeps a number of its own


def test_a_restarted_bin_goes_on_counting_from_where_it_was() -> None:
    m = ReturnsBinMachine(ReturnsSettings(), remembered=Remembered((("reshelve", 8),)))
    state, _ = m.start()
    state, (checkin,) = m.step(state, ItemDropped("drop-1", "31234000000016", (UID,)))
    state, (security,) = m.step(state, ReturnAnswered(checkin.ref, ReturnAnswer("31234000000016", True, "Dune")))
    assert isinstance(security, SetSecurity)
    state, (route,) = m.step(state, SecuritySet(security.ref, ok=True))
    assert isinstance(route, RouteToBin) and route.bin == "reshelve"
    state, _ = m.step(state, Routed(route.ref, ok=True))
    assert state.count("reshelve") == 9


def test_nothing_remembered_is_a_fresh_start() -> None:
    fresh, _ = ReturnsBinMachine(ReturnsSettings()).start()
    assert started(Remembered()) == fresh
    assert Remembered.of(fresh) == Remembered(fresh.counts)


exceptions = st.lists(
    st.builds(ReturnException, seq=st.integers(1, 10_000), item_id=st.text(max_size=14),
              bin=st.sampled_from(["holds", "transit", "reshelve", "exceptions"]),
              reason=st.sampled_from(["returns.refused", "returns.unreadable", "returns.route_failed"]),
              detail=st.text(max_size=20), title=st.text(max_size=20)),
    max_size=6,
).map(tuple)
BINS = ("holds", "transit", "reshelve", "exceptions")  # the default settings' bins, in their order
counts = st.tuples(*(st.integers(0, 500) for _ in BINS)).map(lambda ns: tuple(zip(BINS, ns, strict=True)))


@given(counts=counts, exceptions=exceptions, fault=st.text(max_size=20))
def test_what_a_bin_remembers_of_its_state_starts_an_equal_bin(counts: tuple[tuple[str, int], ...],
                                                              exceptions: tuple[ReturnException, ...],
                                                              fault: str) -> None:
    remembered = Remembered(counts, exceptions, fault)
    state = started(remembered, bin_capacity=1000)
    assert Remembered.of(state) == remembered
    assert state.accepting == (not fault)
