"""Checks both serial reader stacks (FEIG, 3M 810) must pass: the shared ``SerialLink`` and ``PtyDevice``
behaviour on unplug and re-plug, seen through each driver and its simulation."""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest

from hardware_mocks.sim_reader import SimTag, SimulatedReader
from kiosk.hardware.rfid.readers.base import ReaderUnavailable
from kiosk.hardware.rfid.readers.serial_reader import SerialLinkReader


def unplug_and_replug_under(sim: SimulatedReader, reader: SerialLinkReader) -> None:
    """Unplug ``sim`` under the open ``reader``: the next command fails naming the port, the reader stays
    closed and cannot reopen until the re-plug; then re-plug (same link) and reopen."""
    sim.unplug()
    with pytest.raises(ReaderUnavailable) as caught:
        reader.inventory()
    assert sim.path in str(caught.value)
    assert not reader.is_open
    with pytest.raises(ReaderUnavailable, match="cannot open"):
        reader.open()
    sim.replug()
    reader.open()


def check_replug_on_a_new_path(
    sim: SimulatedReader, make_reader: Callable[[str], SerialLinkReader], tag: SimTag
) -> None:
    """Without a stable link, re-plug comes back on a new pty; the reader works once pointed at it."""
    with sim:
        sim.place(tag)
        reader = make_reader(sim.path)
        reader.open()
        old = sim.path
        sim.unplug()
        with pytest.raises(ReaderUnavailable, match=old):
            reader.inventory()
        new = sim.replug()
        assert os.path.exists(new)
        reader.port = new
        reader.open()
        assert len(reader.inventory()) == 1
        reader.close()
