"""EscposReceiptPrinter end to end: python-escpos writes to the simulated printer's pty (opened like any
serial printer), the simulation parses the bytes and puts them on paper, the test reads the paper."""

from __future__ import annotations

import logging
import os
import socketserver
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest
from PIL import Image, ImageDraw

from hardware_mocks.printer_pty import SimulatedPrinter
from kiosk.circulation.commands import EmailReceipt, PrintReceipt, PrintSlip, ReceiptLine
from kiosk.circulation.events import Emailed, Printed
from kiosk.hardware.printer.codepage import encode_lines, printer_pages
from kiosk.hardware.printer.device import EscposReceiptPrinter, render_job
from kiosk.hardware.printer.layout import Masthead, Printout, TextLine, layout, to_text
from kiosk.hardware.printer.profiles import profile
from kiosk.hardware.printer.settings import PrinterSettings, check_printer
from kiosk.hardware.printer.status import PrinterState, PrinterStatus
from kiosk.shell.outputs import MemoryMailer, Outputs, OutputUnavailable

AT = datetime(2025, 3, 1, 14, 5, tzinfo=UTC)
WAIT = 5.0  # upper bound for the simulation to catch up; never a measured figure
REPO = Path(__file__).resolve().parents[3]

LINES = (
    ReceiptLine("Library receipt", bold=True),
    ReceiptLine("Card: ****3456"),
    ReceiptLine("Borrowed", bold=True),
    ReceiptLine("Müller, Ærø: Łódź — a chronicle of three cities"),
    ReceiptLine("  due 2025-03-15"),
    ReceiptLine("Der Zauberberg"),
    ReceiptLine("  due 2025-03-15"),
    ReceiptLine("Returned", bold=True),
    ReceiptLine("Tintenherz"),
    ReceiptLine("  returned"),
)


def wait_for(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("the simulated printer did not get there")
        time.sleep(0.005)


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("kiosk-cache")


class Harness:
    def __init__(self, sim: SimulatedPrinter, cache: Path) -> None:
        self.sim = sim
        self.cache = cache
        self.statuses: list[PrinterStatus] = []
        self.printers: list[EscposReceiptPrinter] = []

    def printer(self, **changes: object) -> EscposReceiptPrinter:
        settings = PrinterSettings(
            connection="serial",
            device=self.sim.path,
            paper_width="58mm",
            status_timeout_seconds=0.2,
            footer="Danke!",
        )
        printer = EscposReceiptPrinter(
            replace(settings, **changes),
            library="Stadtbücherei",
            now=lambda: AT,
            on_status=self.statuses.append,
            cache=self.cache,
        )
        self.printers.append(printer)
        return printer

    def sheet(self, count: int = 1):
        wait_for(lambda: len(self.sim.sheets) >= count)
        return self.sim.sheets[count - 1]


@pytest.fixture
def harness(cache: Path, tmp_path: Path) -> Iterator[Harness]:
    with SimulatedPrinter(paper_width="58mm", link_path=str(tmp_path / "ttyPrinter")) as sim:
        h = Harness(sim, cache)
        yield h
        for printer in h.printers:
            printer.close()


def assert_clean_print(sim: SimulatedPrinter) -> None:
    assert sim.unknown == [], "bytes the printer does not understand"
    assert sim.wrapped_lines == 0, "a line wider than the paper"
    assert sim.bad_code_pages == []


def test_receipt_on_58mm_paper_reads_as_laid_out(harness: Harness) -> None:
    harness.printer().print_lines(LINES, kind="receipt")
    sheet = harness.sheet()
    expected = to_text(
        layout("receipt", LINES, columns=32, printed_at=AT, masthead=Masthead("Stadtbücherei", "Danke!"))
    )
    printed = sheet.text()
    assert printed.startswith(expected)
    assert printed[len(expected) :].strip("\n") == ""  # then only the feed to the cutter
    assert sheet.cut == "full"
    assert "Müller, Ærø: Łódź — a chronicle\nof three cities\n" in printed
    assert sheet.lines[0].width == 2 and sheet.lines[0].height == 2 and sheet.lines[0].bold
    assert [line.text for line in sheet.lines if line.bold][1:] == ["Library receipt", "Borrowed", "Returned"]
    assert_clean_print(harness.sim)


def test_receipt_on_80mm_paper(cache: Path) -> None:
    with SimulatedPrinter(paper_width="80mm") as sim:
        h = Harness(sim, cache)
        h.printer(paper_width="80mm", cut="partial").print_lines(LINES, kind="receipt")
        sheet = h.sheet()
        assert "Müller, Ærø: Łódź — a chronicle of three cities\n" in sheet.text()
        assert sheet.cut == "partial"
        assert max(len(line.text) * line.width for line in sheet.lines) == 48
        assert_clean_print(sim)
        h.printers[0].close()


def test_code_page_switch_on_the_wire(harness: Harness) -> None:
    """TM-T88IV has CP858 and CP852 but no page with both Ø and Ł: the printer must switch."""
    harness.printer(profile="TM-T88IV").print_lines(
        (ReceiptLine("Receipt", bold=True), ReceiptLine("Müller, Ærø, Łódź")), kind="receipt"
    )
    sheet = harness.sheet()
    assert "Müller, Ærø, Łódź" in [line.text for line in sheet.lines]
    assert_clean_print(harness.sim)


def test_a_printer_without_the_characters_prints_stand_ins_and_says_so(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="kiosk.hardware.printer.device"):
        harness.printer(profile="simple", cut="none").print_lines(
            (ReceiptLine("Receipt", bold=True), ReceiptLine("Müller, Ærø, Łódź…")), kind="receipt"
        )
    # no cutter on this profile: the receipt stays on the roll, fed past the tear bar
    wait_for(lambda: "Müller, Æro, Lódz..." in [line.text for line in harness.sim.current.lines])
    assert harness.sim.sheets == []
    assert "'Ł'->'L'" in caplog.text and "'…'->'...'" in caplog.text


def test_control_bytes_in_a_title_cannot_cut_the_paper(harness: Harness) -> None:
    harness.printer().print_lines(
        (ReceiptLine("R", bold=True), ReceiptLine("A\x1dV\x00B\x1b@C")), kind="receipt"
    )
    sheet = harness.sheet()
    assert "A V B @C" in [line.text for line in sheet.lines]
    assert len(harness.sim.sheets) == 1


def test_logo_is_a_centred_raster(harness: Harness, tmp_path: Path) -> None:
    logo = Image.new("RGBA", (100, 40), (0, 0, 0, 0))
    ImageDraw.Draw(logo).rectangle((10, 10, 89, 29), fill=(0, 0, 0, 255))
    path = tmp_path / "logo.png"
    logo.save(path)
    harness.printer(logo=str(path)).print_lines(LINES, kind="receipt")
    sheet = harness.sheet()
    assert sheet.text().startswith("[image 384x40]\n")
    image = sheet.images[0]
    left = (384 - 100) // 2
    assert image.black(left + 10, 10) and image.black(left + 89, 29)
    assert not image.black(left + 9, 10) and not image.black(left + 50, 5)  # transparent prints as paper


def test_slips_through_the_outputs(harness: Harness) -> None:
    outputs = Outputs(printer=harness.printer())
    hold = (
        ReceiptLine("HOLD", bold=True),
        ReceiptLine("Momo"),
        ReceiptLine("For: Jane Doe", bold=True),
        ReceiptLine("Item: 3001"),
    )
    transit = (
        ReceiptLine("TRANSIT", bold=True),
        ReceiptLine("To: Branch Nord", bold=True),
        ReceiptLine("Item: 3002"),
    )
    assert outputs.perform(PrintSlip("s1", "hold", hold)) == Printed("s1", True, "")
    assert outputs.perform(PrintSlip("s2", "transit", transit)) == Printed("s2", True, "")
    first, second = harness.sheet(1), harness.sheet(2)
    assert first.text().startswith("            HOLD\n" + "-" * 32 + "\nMomo\nFor: Jane Doe\nItem: 3001\n")
    assert second.lines[0].text == "TRANSIT" and second.lines[0].width == 2
    assert "To: Branch Nord" in [line.text for line in second.lines if line.bold]
    assert first.cut and second.cut


def test_paper_low_still_prints_and_warns(harness: Harness) -> None:
    harness.sim.set_state(paper="low")
    harness.printer().print_lines(LINES, kind="receipt")
    assert harness.sheet().lines
    assert harness.statuses[-1].state is PrinterState.PAPER_LOW
    assert harness.statuses[-1].health[0] == "warning"


def test_paper_out_refuses_clearly_and_the_lines_can_still_be_mailed(harness: Harness) -> None:
    harness.sim.set_state(paper="out")
    mailer = MemoryMailer()
    outputs = Outputs(printer=harness.printer(), mailer=mailer)

    printed = outputs.perform(PrintReceipt("r1", LINES))
    assert printed == Printed("r1", False, "printer paper out: the paper roll is empty")
    assert harness.sim.sheets == [] and harness.sim.held == []  # not a byte of the receipt was sent
    assert {c.name for c in harness.sim.requests} == {"DLE EOT"}

    assert outputs.perform(EmailReceipt("r2", "jane@example.net", LINES)) == Emailed("r2", True, "")
    assert mailer.sent == [("jane@example.net", LINES)]
    assert harness.statuses[-1] == PrinterStatus(PrinterState.PAPER_OUT, "the paper roll is empty")

    harness.sim.set_state(paper="ok")  # staff load a roll: the next receipt prints
    assert outputs.perform(PrintReceipt("r3", LINES)) == Printed("r3", True, "")
    assert harness.sheet().lines


@pytest.mark.parametrize(
    ("state", "message"),
    [
        ({"cover_open": True}, "printer cover open: the printer cover is open"),
        ({"offline": True}, "printer offline: the printer reports itself offline"),
        ({"error": "cutter"}, "printer error: autocutter error (paper jam at the cutter?)"),
    ],
)
def test_faults_refuse_without_sending(harness: Harness, state: dict, message: str) -> None:
    harness.sim.set_state(**state)
    with pytest.raises(OutputUnavailable) as caught:
        harness.printer().print_lines(LINES, kind="receipt")
    assert str(caught.value) == message
    assert harness.sim.held == [] and harness.sim.sheets == []


def test_silent_printer_is_unknown_not_ok(harness: Harness) -> None:
    harness.sim.silent = True
    printer = harness.printer()
    status = printer.status()
    assert status == PrinterStatus(PrinterState.UNKNOWN, "no answer to status query DLE EOT 1")
    assert not status.can_print
    with pytest.raises(OutputUnavailable, match="printer unknown: no answer to status query"):
        printer.print_lines(LINES, kind="receipt")
    assert {c.name for c in harness.sim.requests} == {"DLE EOT"}


def test_python_escpos_calls_the_silent_printer_fine(harness: Harness, cache: Path) -> None:
    """The pitfall this driver avoids, shown on the same wire: paper_status() says 2 ("adequate")."""
    from kiosk.hardware.printer.escpos_import import load_escpos

    harness.sim.silent = True
    escpos = load_escpos(cache)
    raw = escpos.Serial(devfile=harness.sim.path, timeout=0.2, dsrdtr=False)
    raw.open()
    try:
        assert raw.paper_status() == 2
    finally:
        raw.close()


def test_a_one_way_printer_prints_when_the_site_says_it_cannot_answer(harness: Harness) -> None:
    harness.sim.silent = True
    printer = harness.printer(status_queries=False)
    status = printer.status()
    assert status.state is PrinterState.UNKNOWN and not status.queried and status.can_print
    printer.print_lines(LINES, kind="receipt")
    assert harness.sheet().lines
    assert harness.sim.status_queries == []


def test_one_garbled_answer_is_asked_again(harness: Harness) -> None:
    printer = harness.printer()
    harness.sim.corrupt_next_replies(1)
    assert printer.status().state is PrinterState.READY
    assert harness.sim.status_queries == [1, 1, 4]


def test_garbled_twice_is_unknown_and_the_next_check_reads_again(harness: Harness) -> None:
    printer = harness.printer()
    harness.sim.corrupt_next_replies(2)
    first = printer.status()
    assert first.state is PrinterState.UNKNOWN and "garbled" in first.detail
    assert not first.can_print
    assert printer.status().state is PrinterState.READY


def test_unplug_and_replug_is_picked_up_without_a_restart(harness: Harness) -> None:
    printer = harness.printer()
    assert printer.status().state is PrinterState.READY
    harness.sim.unplug()
    gone = printer.status()
    assert gone.state is PrinterState.ABSENT
    with pytest.raises(OutputUnavailable, match="printer absent"):
        printer.print_lines(LINES, kind="receipt")
    harness.sim.start()  # plugged back in: a new pty behind the same link
    assert printer.status().state is PrinterState.READY
    printer.print_lines(LINES, kind="receipt")
    assert harness.sheet().lines
    # each change of state or reason is reported: the port failed, then its path was gone
    assert [s.state for s in harness.statuses] == [
        PrinterState.READY,
        PrinterState.ABSENT,
        PrinterState.ABSENT,
        PrinterState.READY,
    ]
    assert "status query failed" in harness.statuses[1].detail
    assert "No such file or directory" in harness.statuses[2].detail


def test_a_printer_that_is_not_there(cache: Path, tmp_path: Path) -> None:
    settings = PrinterSettings(
        connection="serial", device=str(tmp_path / "nothing"), status_timeout_seconds=0.2
    )
    printer = EscposReceiptPrinter(settings, library="L", cache=cache)
    status = printer.status()
    assert status.state is PrinterState.ABSENT
    assert f"printer not found (serial {tmp_path / 'nothing'})" in status.detail
    with pytest.raises(OutputUnavailable, match="printer absent: printer not found"):
        printer.print_lines(LINES, kind="receipt")


def test_status_changes_are_reported_once_each(harness: Harness) -> None:
    printer = harness.printer()
    printer.status()
    printer.status()
    harness.sim.set_state(cover_open=True)
    printer.status()
    printer.status()
    harness.sim.set_state(cover_open=False)
    printer.status()
    assert [s.state for s in harness.statuses] == [
        PrinterState.READY,
        PrinterState.COVER_OPEN,
        PrinterState.READY,
    ]


def test_watch_reports_while_idle(harness: Harness) -> None:
    printer = harness.printer(status_interval_seconds=0.02)
    stop = threading.Event()
    thread = threading.Thread(target=printer.watch, args=(stop,))
    thread.start()
    try:
        wait_for(lambda: bool(harness.statuses))
        harness.sim.set_state(paper="out")
        wait_for(lambda: harness.statuses[-1].state is PrinterState.PAPER_OUT)
    finally:
        stop.set()
        thread.join(WAIT)
    assert not thread.is_alive()
    assert harness.statuses[0].state is PrinterState.READY


def test_test_page(harness: Harness) -> None:
    status = harness.printer().print_test_page()
    assert status.state is PrinterState.READY
    text = harness.sheet().text()
    assert "12345678901234567890123456789012\n" in text
    assert "ÀÉÎÕÜ àéîõü ß Æ ø Ł ó ź €\n" in text
    assert_clean_print(harness.sim)


def test_nothing_to_print_sends_nothing(harness: Harness) -> None:
    harness.printer().print_lines((), kind="receipt")
    assert list(harness.sim.requests) == []


def test_the_job_bytes(cache: Path) -> None:
    printout = Printout(
        "receipt", 32, (TextLine("Hi", bold=True, align="center", double=True), TextLine("ü"))
    )
    encoded = encode_lines(["Hi", "ü"], printer_pages(profile("default").code_pages))
    job = render_job(printout, encoded, profile_name="default", logo=None, cut="full", cache=cache)
    assert job == (
        b"\x1b@"  # initialise
        # python-escpos's set(): sizes through ESC ! (which also clears bold, so bold comes after)
        b"\x1b!\x00\x1b!\x00\x1b!\x30\x1bE\x01\x1ba\x01"  # double width + height, bold, centred
        b"\x1bt\x13Hi\n"  # CP858, then the text
        b"\x1b!\x00\x1b!\x00\x1b!\x00\x1bE\x00\x1ba\x00"  # back to normal
        b"\x81\n"  # "ü" in CP858, no new ESC t
        b"\x1b!\x00\x1b!\x00\x1b!\x00\x1bE\x00\x1ba\x00"
        b"\x1bd\x06\x1dV\x00"  # feed to the cutter, full cut
    )


def test_network_printer(cache: Path) -> None:
    """Port 9100 printers: the same simulation behind a TCP socket."""
    sim = SimulatedPrinter()

    class Handler(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            while data := self.request.recv(4096):
                if answer := sim.receive(data):
                    self.request.sendall(answer)

    with socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler) as server:
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        settings = PrinterSettings(
            connection="network", host="127.0.0.1", port=server.server_address[1], status_timeout_seconds=0.2
        )
        printer = EscposReceiptPrinter(settings, library="Stadtbücherei", now=lambda: AT, cache=cache)
        try:
            printer.print_lines(LINES, kind="receipt")
            wait_for(lambda: bool(sim.sheets))
            assert "Müller, Ærø: Łódź — a chronicle of three cities" in sim.sheets[0].text()
            sim.silent = True
            assert printer.status().state is PrinterState.UNKNOWN
        finally:
            printer.close()
            server.shutdown()


def test_usblp_device_file_prints_without_status(cache: Path, tmp_path: Path) -> None:
    device = tmp_path / "lp0"
    device.touch()
    printer = EscposReceiptPrinter(
        PrinterSettings(connection="file", device=str(device)), library="L", now=lambda: AT, cache=cache
    )
    status = printer.status()
    assert status.state is PrinterState.UNKNOWN and not status.queried
    printer.print_lines(LINES, kind="receipt")
    printer.close()
    sim = SimulatedPrinter()
    sim.receive(device.read_bytes())
    assert "Tintenherz" in sim.last_sheet().text()


def test_construction_refuses_what_cannot_work(cache: Path, tmp_path: Path) -> None:
    not_an_image = tmp_path / "logo.png"
    not_an_image.write_text("GIF89a? no")
    with pytest.raises(ValueError, match="not an image the kiosk can print"):
        EscposReceiptPrinter(
            PrinterSettings(connection="file", device="/dev/null", logo=str(not_an_image)),
            library="L",
            cache=cache,
        )
    with pytest.raises(ValueError, match="NoPrinter"):
        EscposReceiptPrinter(PrinterSettings(), library="L", cache=cache)
    with pytest.raises(ValueError, match="has no cutter"):
        EscposReceiptPrinter(
            PrinterSettings(connection="file", device="/dev/null", profile="POS-5890"),
            library="L",
            cache=cache,
        )


def test_cross_checks() -> None:
    origin = SimpleNamespace(label=lambda key: "/etc/kiosk/kiosk.toml")

    def problems(**changes: object) -> list[str]:
        return list(check_printer(SimpleNamespace(printer=PrinterSettings(**changes)), origin))

    assert problems() == []
    assert problems(connection="serial", device="/dev/ttyUSB0") == []
    assert problems(connection="serial") == [
        '/etc/kiosk/kiosk.toml: printer.connection: "serial" needs printer.device: the serial port, '
        "e.g. /dev/serial/by-id/..."
    ]
    assert "printer.host" in problems(connection="network")[0]
    assert "usb_vendor_id and usb_product_id" in problems(connection="usb", usb_vendor_id=0x04B8)[0]
    [line] = problems(profile="POS-5890")
    assert 'printer.cut: expected "none" with printer.profile = "POS-5890"' in line
    assert problems(profile="POS-5890", cut="none") == []
    [line] = problems(profile="TM-T88IV", code_pages=("CP858", "CP1257"))
    assert "CP1257 not in profile" in line and "CP858" in line


def test_profile_and_code_page_checks_for_the_config_file() -> None:
    import dataclasses

    checks = {f.name: f.metadata["check"] for f in dataclasses.fields(PrinterSettings)}
    assert checks["profile"].accepts("TM-T20II") and not checks["profile"].accepts("TM-T20")
    assert checks["code_pages"].accepts(["CP858", "CP852"]) and not checks["code_pages"].accepts(["UTF-8"])
    assert checks["code_pages"].convert(["CP858"]) == ("CP858",)
    for field in dataclasses.fields(PrinterSettings):  # every default passes its own check
        default = field.default
        assert default is None or field.metadata["check"].accepts(
            list(default) if isinstance(default, tuple) else default
        ), field.name


def test_importing_python_escpos_leaves_nothing_behind(tmp_path: Path) -> None:
    """python-escpos's import makes a temp dir even with ESCPOS_CAPABILITIES_PICKLE_DIR set, and calls
    logging.basicConfig(); load_escpos() contains both. Fresh interpreters, so the import really runs."""

    def run(code: str, name: str) -> tuple[str, Path, Path]:
        tmp, home = tmp_path / f"{name}-tmp", tmp_path / f"{name}-cache"
        tmp.mkdir()
        env = {**os.environ, "TMPDIR": str(tmp), "XDG_CACHE_HOME": str(home), "PYTHONPATH": str(REPO)}
        env.pop("ESCPOS_CAPABILITIES_PICKLE_DIR", None)
        env.pop("CACHE_DIRECTORY", None)
        done = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60, check=True
        )
        return done.stdout.strip(), tmp, home

    baseline, tmp, _ = run(
        "import os, logging; os.environ['ESCPOS_CAPABILITIES_PICKLE_DIR'] = os.environ['XDG_CACHE_HOME'];"
        "os.makedirs(os.environ['XDG_CACHE_HOME']); import escpos.printer;"
        "print(len(logging.getLogger().handlers))",
        "plain",
    )
    assert baseline == "1" and len(list(tmp.iterdir())) == 1  # the pitfall, as python-escpos 3.1 has it

    ours, tmp, home = run(
        "import logging; from kiosk.hardware.printer.escpos_import import load_escpos; load_escpos();"
        "print(len(logging.getLogger().handlers))",
        "ours",
    )
    assert ours == "0"
    assert list(tmp.iterdir()) == []
    cached = [p.name for p in (home / "kiosk" / "escpos").iterdir()]
    assert len(cached) == 1 and cached[0].endswith(".capabilities.pickle")
