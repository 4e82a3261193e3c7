"""The real pcscd, with vsmartcard's vpcd driver, under the PC/SC tests.

CI runs as root on a Debian 12 without systemd, so nothing starts pcscd for us: the session
fixture starts ``pcscd --foreground`` itself (or reuses one that already answers with the vpcd
readers) and stops only what it started. A missing package is a failure naming the package, never a
skip: a green run must mean the PC/SC path was exercised.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from pcsc_harness import VPCD_CONF, VPCD_DRIVER, Pcscd, pcscd_answers

# The checks both reader stacks share live in plain modules: have pytest explain their failed asserts too.
pytest.register_assert_rewrite("decoder_checks", "serial_reader_checks")


@pytest.fixture(scope="session")
def pcscd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pcscd]:
    binary = shutil.which("pcscd") or "/usr/sbin/pcscd"
    if not Path(binary).exists():
        pytest.fail("pcscd is missing: install the Debian package 'pcscd' (./dev installs it)")
    if not VPCD_DRIVER.exists() or not VPCD_CONF.exists():
        pytest.fail("vpcd driver is missing: install the Debian package 'vsmartcard-vpcd' (./dev installs it)")
    service = Pcscd(binary, tmp_path_factory.mktemp("pcscd") / "pcscd.log")
    if not service.ready():
        if pcscd_answers():
            pytest.fail("a pcscd is running without the vpcd readers listening: restart it after installing vpcd")
        service.start()
    yield service
    if service.owned and service.process is not None:
        service.stop()
