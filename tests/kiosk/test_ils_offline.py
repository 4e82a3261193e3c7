"""Offline detection (probe back-off on an injected clock) and the [offline] policy, setting by setting."""

from __future__ import annotations

from datetime import datetime

import pytest

from kiosk.config import (
    ConfigError,
    Layer,
    OfflineSettings,
    Settings,
    defaults_layer,
    parse_layers,
)
from kiosk.ils.offline import (
    CHECKOUT_LIMIT,
    LIBRARY_USE_ONLY,
    NO_CHECKINS,
    NO_CHECKOUTS,
    NO_PAYMENTS,
    NO_RENEWALS,
    NOT_FOR_LOAN,
    OfflinePolicy,
    Reachability,
)

NOW = datetime(2025, 3, 10, 14, 30, 5)


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


# -- reachability --------------------------------------------------------------------------------


def test_online_until_a_failure_then_probes_back_off_doubling_to_the_maximum() -> None:
    clock = Clock()
    r = Reachability(probe_min=1.0, probe_max=5.0, clock=clock)
    assert r.online and r.should_try() and r.next_probe_in == 0
    r.failed("connection refused")
    assert not r.online and r.last_error == "connection refused"
    waits = []
    for _ in range(5):
        assert not r.should_try()  # no probe before its time: requests are handled offline at once
        waits.append(r.next_probe_in)
        clock.t += r.next_probe_in
        assert r.should_try()  # the probe
        r.failed("still down")
    assert waits == [1.0, 2.0, 4.0, 5.0, 5.0]


def test_a_due_probe_goes_to_one_caller_only() -> None:
    clock = Clock()
    r = Reachability(probe_min=2.0, probe_max=8.0, clock=clock)
    r.failed()
    clock.t += 2.0
    assert r.should_try()
    assert not r.should_try()  # the others stay offline while the probe is out


def test_success_resets_online_and_the_back_off() -> None:
    clock = Clock()
    r = Reachability(probe_min=1.0, probe_max=60.0, clock=clock)
    r.failed()
    clock.t += 1
    r.should_try()
    r.failed()  # wait now 2
    r.succeeded()
    assert r.online and r.last_error == "" and r.should_try()
    r.failed()
    assert r.next_probe_in == 1.0  # starts from the minimum again


def test_reachability_rejects_a_nonsense_back_off() -> None:
    with pytest.raises(ValueError):
        Reachability(probe_min=5.0, probe_max=1.0)
    with pytest.raises(ValueError):
        Reachability(probe_min=0.0, probe_max=1.0)


# -- the policy ------------------------------------------------------------------------------------


def policy(**kw) -> OfflinePolicy:
    return OfflinePolicy(OfflineSettings(**kw))


def test_default_policy_takes_returns_but_not_loans() -> None:
    p = policy()
    assert p.settings.mode == "checkin"
    assert p.checkin().accepted
    refused = p.checkout("21234000000018", done_this_session=0, now=NOW)
    assert not refused.accepted and refused.message_id == NO_CHECKOUTS


def test_mode_none_does_nothing_offline() -> None:
    p = policy(mode="none")
    assert not p.enabled
    assert p.patron("21234000000018") is None  # the lookup fails as unreachable
    assert p.checkin().message_id == NO_CHECKINS
    assert p.checkout("21234000000018", done_this_session=0, now=NOW).message_id == NO_CHECKOUTS


def test_checkin_and_checkout_lends_until_the_session_limit() -> None:
    p = policy(mode="checkin_and_checkout", max_checkouts=2, loan_days=21)
    first = p.checkout("X1", done_this_session=0, now=NOW)
    assert first.accepted and first.due == datetime(2025, 3, 31, 23, 59, 59)
    assert p.checkout("X1", done_this_session=1, now=NOW).accepted
    over = p.checkout("X1", done_this_session=2, now=NOW)
    assert not over.accepted and over.message_id == CHECKOUT_LIMIT
    assert policy(mode="checkin_and_checkout", max_checkouts=0).checkout(
        "X1", done_this_session=0, now=NOW).message_id == CHECKOUT_LIMIT


def test_loan_days_by_type_apply_only_when_the_type_is_known() -> None:
    p = policy(mode="checkin_and_checkout", loan_days=14, loan_days_by_type={"DVD": 7})
    assert p.due_date(NOW, "DVD") == datetime(2025, 3, 17, 23, 59, 59)
    assert p.due_date(NOW, "BOOK") == datetime(2025, 3, 24, 23, 59, 59)  # unknown type: the default
    assert p.due_date(NOW) == datetime(2025, 3, 24, 23, 59, 59)  # offline the type is usually unknown
    assert p.checkout("X1", done_this_session=0, now=NOW, item_type="DVD").due == datetime(2025, 3, 17, 23, 59, 59)


def test_the_card_must_match_the_site_pattern_in_full() -> None:
    p = policy(mode="checkin_and_checkout", patron_pattern=r"2\d{13}")
    ok = p.patron("21234000000018")
    assert ok is not None and ok.known and ok.offline and ok.pin_ok is None and ok.name == "" and ok.may_borrow
    for bad in ("1234", "21234000000018x", "", "x21234000000018"):
        account = p.patron(bad)
        assert account is not None and not account.known and account.offline, bad
        assert p.checkout(bad, done_this_session=0, now=NOW).message_id == NO_CHECKOUTS
    assert policy().patron("") is not None and not policy().patron("").known  # default: anything non-empty
    assert policy().patron("any card at all").known


def test_an_item_whose_tag_says_it_is_not_for_loan_is_not_lent_offline() -> None:
    p = policy(mode="checkin_and_checkout", max_checkouts=2)

    def out(*usages: str, done: int = 0):
        return p.checkout("X1", done_this_session=done, now=NOW, tag_usages=usages)

    assert out("circulating_item").accepted and out().accepted  # a tag that circulates, or no word at all
    assert out("local_use_a").accepted and out("usage_5").accepted  # not in the site's list
    refused = out("not_for_circulation")
    assert not refused.accepted and refused.message_id == LIBRARY_USE_ONLY and refused.due is None
    assert out("discarded").message_id == NOT_FOR_LOAN  # refused by default too, with "ask staff"
    assert out("circulating_item", "not_for_circulation").message_id == LIBRARY_USE_ONLY  # one part says so
    assert out("not_for_circulation", done=2).message_id == LIBRARY_USE_ONLY  # the item's own reason first
    # what is refused before the item is looked at stays as it was
    assert policy().checkout("X1", done_this_session=0, now=NOW,
                             tag_usages=("not_for_circulation",)).message_id == NO_CHECKOUTS


def test_which_types_of_usage_are_refused_offline_is_the_sites_choice() -> None:
    assert OfflineSettings().refuse_usage_types == ("not_for_circulation", "discarded")
    lends_all = policy(mode="checkin_and_checkout", refuse_usage_types=())
    assert lends_all.checkout("X1", done_this_session=0, now=NOW, tag_usages=("not_for_circulation",)).accepted
    equipment = policy(mode="checkin_and_checkout", refuse_usage_types=("library_equipment",))
    assert equipment.checkout("X1", done_this_session=0, now=NOW,
                              tag_usages=("library_equipment",)).message_id == NOT_FOR_LOAN
    assert equipment.checkout("X1", done_this_session=0, now=NOW, tag_usages=("discarded",)).accepted


def test_renewals_and_payments_are_always_refused_offline() -> None:
    for mode in ("none", "checkin", "checkin_and_checkout"):
        p = policy(mode=mode)
        assert p.renew().message_id == NO_RENEWALS and not p.renew().accepted
        assert p.payment().message_id == NO_PAYMENTS and not p.payment().accepted


# -- the [offline] section -------------------------------------------------------------------------


def _parse(toml: str) -> Settings:
    return parse_layers([defaults_layer(), Layer("/etc/kiosk/kiosk.toml", toml.encode(), kind="config")]).settings


def test_offline_section_loads_and_checks_its_values() -> None:
    settings = _parse('[site]\ninstitution_id = "x"\n[sip2]\nhost = "127.0.0.1"\n[offline]\n'
                      'mode = "checkin_and_checkout"\nmax_checkouts = 3\nloan_days_by_type = { DVD = 7 }\n'
                      'patron_pattern = "2\\\\d+"\nrefuse_usage_types = ["not_for_circulation", "acquisition"]\n')
    assert settings.offline == OfflineSettings(mode="checkin_and_checkout", max_checkouts=3,
                                               loan_days_by_type={"DVD": 7}, patron_pattern=r"2\d+",
                                               refuse_usage_types=("not_for_circulation", "acquisition"))
    assert settings.circulation == parse_layers([defaults_layer()]).settings.circulation
    assert OfflineSettings() == parse_layers([defaults_layer()]).settings.offline  # the documented defaults


@pytest.mark.parametrize(("line", "key"), [
    ('mode = "always"', "offline.mode"),
    ("max_checkouts = -1", "offline.max_checkouts"),
    ("loan_days = 0", "offline.loan_days"),
    ('loan_days_by_type = { DVD = "seven" }', "offline.loan_days_by_type"),
    ('patron_pattern = "(unclosed"', "offline.patron_pattern"),
    ('refuse_usage_types = ["reference"]', "offline.refuse_usage_types"),
    ('refuse_usage_types = ["discarded", "discarded"]', "offline.refuse_usage_types"),
    ('refuse_usage_types = "not_for_circulation"', "offline.refuse_usage_types"),
    ("probe_min_seconds = 90.0", "offline.probe_min_seconds"),
])
def test_offline_section_reports_bad_values(line: str, key: str) -> None:
    with pytest.raises(ConfigError) as raised:
        _parse(f'[site]\ninstitution_id = "x"\n[sip2]\nhost = "127.0.0.1"\n[offline]\n{line}\n')
    assert any(key in problem for problem in raised.value.problems), raised.value.problems
