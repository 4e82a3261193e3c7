"""The journal's lines: key=value, one line per event, patron ids masked, secrets never written."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kiosk.ops.logging import KeyValueFormatter, event, format_value, scrub, setup_logging
from kiosk.ops.settings import LoggingSettings

PATRON = "21234000000018"
PIN = "8642"


@pytest.fixture
def logged() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    stream = io.StringIO()
    handler = setup_logging(LoggingSettings(level="debug"), stream=stream, environ={})
    logger = logging.getLogger("kiosk.test.ops")
    yield logger, stream
    logging.getLogger().removeHandler(handler)


def lines(stream: io.StringIO) -> list[str]:
    return stream.getvalue().splitlines()


def test_an_event_is_one_key_value_line_with_the_patron_masked(logged: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = logged
    event(logger, "checkout", result="ok", patron=PATRON, ms=23, pin=PIN, title="Jane Eyre")
    (line,) = lines(stream)
    assert re.fullmatch(r"time=\S+ level=info logger=kiosk\.test\.ops event=checkout result=ok patron=\*\*\*\*0018 "
                        r'ms=23 pin=\*\*\*\* title="Jane Eyre"', line), line
    assert PATRON not in line and PIN not in line


def test_fields_named_like_secrets_never_show_their_value(logged: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = logged
    event(logger, "login", sip2_password="hunter2", staff_pin="9999", api_token="abc", webhook_url="https://x/T0K")
    (line,) = lines(stream)
    assert "hunter2" not in line and "9999" not in line and "abc" not in line and "T0K" not in line
    assert "sip2_password=**** staff_pin=**** api_token=**** webhook_url=****" in line


def test_sip2_frames_in_messages_lose_pins_passwords_and_patron_data(
    logged: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = logged
    frame = (f"6300020260101    120000          AOdemo|AA{PATRON}|AD{PIN}|ACterm|BP1|BQ5|\r"
             "64              00020260101    120000000000000000000000AOdemo|"
             f"AA{PATRON}|AEMaria Hernández|BEmaria@example.org|BF555-1234|AY1AZF00F")
    logger.debug("wire >> %s", frame)
    logger.warning("login %s", "9300CNkiosk|COs3cret|CPmain|")
    out = stream.getvalue()
    for secret in (PIN, "term", PATRON, "Maria", "maria@example.org", "555-1234", "s3cret"):
        assert secret not in out, secret
    assert "AA****0018" in out and "AD****" in out and "CO****" in out and "AE****" in out
    assert "AOdemo" in out and "BQ5" in out  # the rest of the frame stays readable


def test_password_pairs_in_free_text_are_emptied() -> None:
    assert scrub("connect failed password=hunter2, user=kiosk") == "connect failed password=****, user=kiosk"
    assert scrub('PIN: 1234 token = "a b c"') == "PIN: **** token = ****"
    assert scrub("gate_pin=17 opened") == "gate_pin=17 opened"  # a GPIO pin number is not a secret


def test_a_traceback_stays_on_the_events_line(logged: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = logged
    try:
        raise ValueError(f"bad frame |AD{PIN}|")
    except ValueError:
        logger.exception("step failed\nsecond line")
    (line,) = lines(stream)
    assert 'msg="step failed\\nsecond line"' in line
    assert "exc=\"Traceback" in line and "ValueError" in line and PIN not in line


def test_under_journald_lines_carry_the_priority_and_no_timestamp() -> None:
    formatter = KeyValueFormatter(journald=True)
    record = logging.LogRecord("kiosk.x", logging.WARNING, __file__, 1, "paper low", None, None)
    assert formatter.format(record) == '<4>level=warning logger=kiosk.x msg="paper low"'
    record = logging.LogRecord("kiosk.x", logging.ERROR, __file__, 1, "down", None, None)
    assert formatter.format(record).startswith("<3>level=error ")


def test_setup_twice_leaves_one_handler_and_sets_levels() -> None:
    root = logging.getLogger()
    before = list(root.handlers)
    first = setup_logging(LoggingSettings(level="warning"), stream=io.StringIO(), environ={})
    second = setup_logging(LoggingSettings(level="info"), stream=io.StringIO(), environ={"JOURNAL_STREAM": "8:1"})
    try:
        assert first not in root.handlers and second in root.handlers
        assert root.level == logging.INFO
        assert logging.getLogger("sip2.wire").level == logging.INFO  # frames stay out unless asked for
        setup_logging(LoggingSettings(level="info", wire_frames=True), stream=io.StringIO(), environ={})
        assert logging.getLogger("sip2.wire").level == logging.DEBUG
    finally:
        for handler in list(root.handlers):
            if handler not in before:
                root.removeHandler(handler)


def _parse(line: str) -> dict[str, str]:
    """A logfmt reader: bare values end at a space, quoted ones are JSON strings."""
    out: dict[str, str] = {}
    decoder = json.JSONDecoder()
    i = 0
    while i < len(line):
        key_end = line.index("=", i)
        key = line[i:key_end]
        if line[key_end + 1:key_end + 2] == '"':
            value, end = decoder.raw_decode(line, key_end + 1)
        else:
            end = line.find(" ", key_end + 1)
            end = len(line) if end == -1 else end
            value = line[key_end + 1:end]
        out[key] = value
        i = end + 1
    return out


@given(st.text(), st.text(alphabet=st.characters(codec="utf-8"), min_size=0, max_size=50))
def test_any_value_formats_onto_one_line_and_reads_back(message: str, note: str) -> None:
    formatter = KeyValueFormatter(journald=False)
    record = logging.LogRecord("kiosk.x", logging.INFO, __file__, 1, "note", None, None)
    record.kv = {"detail": note}
    line = formatter.format(record)
    assert "\n" not in line and "\r" not in line
    assert _parse(line)["detail"] == scrub(note)
    assert format_value(message).count("\n") == 0


def test_each_ils_transaction_becomes_one_event_line_without_pin_or_ils_words(
    logged: tuple[logging.Logger, io.StringIO],
) -> None:
    from kiosk.circulation.commands import CheckIn, CheckOut
    from kiosk.circulation.events import IlsFailed, LoanAnswered
    from kiosk.circulation.model import Failure, FailureKind, LoanAnswer
    from kiosk.ops.steplog import StepLog

    _, stream = logged
    now = [10.0]
    steps = StepLog(clock=lambda: now[0])
    steps(None, None, (CheckOut("c1", PATRON, "31234000000016", PIN), CheckIn("i1", "31234000000305")))
    now[0] = 10.023
    answer = LoanAnswer("31234000000016", ok=False, messages=("Maria Hernández has 3 overdue items",))
    steps(LoanAnswered("c1", answer), None, ())
    steps(IlsFailed("i1", Failure(FailureKind.UNREACHABLE, "cannot connect")), None, ())
    steps(LoanAnswered("never-sent", answer), None, ())
    first, second = [line.split(" ", 1)[1] for line in lines(stream)]
    assert first == ("level=info logger=kiosk.transactions event=checkout result=refused patron=****0018 "
                     "item=31234000000016 ms=23")
    assert second == ("level=warning logger=kiosk.transactions event=checkin result=unreachable "
                      'item=31234000000305 ms=23 failure=unreachable')
    assert PIN not in stream.getvalue() and "Maria" not in stream.getvalue()
