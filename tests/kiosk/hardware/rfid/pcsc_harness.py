"""Starting, stopping and watching the real pcscd for the PC/SC tests (imported by conftest and tests)."""

from __future__ import annotations

import ctypes
import signal
import subprocess
import time
from pathlib import Path

import pytest
from smartcard import scard

from hardware_mocks.pcsc_tag import VPCD_PORT

VPCD_DRIVER = Path("/usr/lib/pcsc/drivers/serial/libifdvpcd.so")
VPCD_CONF = Path("/etc/reader.conf.d/vpcd")
SLOT0 = "Virtual PCD 00 00"
SLOT1 = "Virtual PCD 00 01"
SLOT1_PORT = VPCD_PORT + 1


def port_listening(port: int) -> bool:
    """Read /proc rather than connect: a test connection would look like a card to vpcd."""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                return True
    return False


def vpcd_readers() -> list[str]:
    hresult, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    if hresult != scard.SCARD_S_SUCCESS:
        return []
    try:
        hresult, readers = scard.SCardListReaders(context, [])
        return [r for r in readers if r.startswith("Virtual PCD")] if hresult == scard.SCARD_S_SUCCESS else []
    finally:
        scard.SCardReleaseContext(context)


def _die_with_parent() -> None:
    """Linux PR_SET_PDEATHSIG: a pytest killed by its timeout must not leave a pcscd behind, which
    the next run would take for a healthy one and reuse."""
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)


class Pcscd:
    """The pcscd the tests talk to; ``owned`` when this run started it (and may stop it)."""

    def __init__(self, binary: str, log_path: Path) -> None:
        self.binary = binary
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None
        self.owned = False

    def ready(self) -> bool:
        return port_listening(VPCD_PORT) and SLOT0 in vpcd_readers()

    def start(self, timeout: float = 10.0) -> None:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [self.binary, "--foreground"], stdout=log, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent
            )
        self.owned = True
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"pcscd exited with {self.process.returncode}:\n{self.log_tail()}")
            if self.ready():
                return
            time.sleep(0.05)
        self.stop()
        pytest.fail(f"pcscd did not list the vpcd reader on port {VPCD_PORT} within {timeout} s:\n{self.log_tail()}")

    def stop(self) -> None:
        if not self.owned or self.process is None:
            pytest.fail(
                "this test stops pcscd, but the pcscd in use was not started by the tests; "
                "stop the system one first (e.g. systemctl stop pcscd.socket pcscd)"
            )
        self.process.terminate()
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
        self.process = None

    def log_tail(self) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-20:])
        except OSError:
            return "(no log)"


def pcscd_answers() -> bool:
    hresult, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    if hresult == scard.SCARD_S_SUCCESS:
        scard.SCardReleaseContext(context)
        return True
    return False


def wait_for_card(reader: str, present: bool, atr: bytes | None = None, timeout: float = 5.0) -> None:
    """Block until pcscd itself reports the slot full (with ``atr``, if given) or empty."""
    hresult, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    assert hresult == scard.SCARD_S_SUCCESS, scard.SCardGetErrorMessage(hresult)
    try:
        states = [(reader, scard.SCARD_STATE_UNAWARE)]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            hresult, states = scard.SCardGetStatusChange(context, 100, states)
            if hresult == scard.SCARD_S_SUCCESS:
                _, state, seen_atr = states[0]
                is_present = bool(state & scard.SCARD_STATE_PRESENT)
                if is_present == present and (atr is None or not present or bytes(seen_atr) == atr):
                    return
                states = [(reader, state & ~scard.SCARD_STATE_CHANGED)]
            elif hresult & 0xFFFFFFFF != scard.SCARD_E_TIMEOUT & 0xFFFFFFFF:
                raise AssertionError(scard.SCardGetErrorMessage(hresult))
        raise AssertionError(f"{reader}: card {'never appeared' if present else 'never left'} within {timeout} s")
    finally:
        scard.SCardReleaseContext(context)
