"""The readers' memory of tags' block sizes stays bounded however many tags cross the field."""

from __future__ import annotations

import pytest

from hardware_mocks.feig_pty import FeigPtySimulator
from hardware_mocks.feig_pty import SimTag as FeigTag
from hardware_mocks.feig_pty import make_uid as feig_uid
from hardware_mocks.m3_810_pty import M3PtySimulator
from hardware_mocks.m3_810_pty import SimTag as M3Tag
from hardware_mocks.m3_810_pty import make_uid as m3_uid
from kiosk.hardware.rfid.readers import block_sizes
from kiosk.hardware.rfid.readers.block_sizes import BlockSizes
from kiosk.hardware.rfid.readers.feig import FeigReader
from kiosk.hardware.rfid.readers.m3_810 import M3810Reader


def test_the_least_recently_used_tag_is_forgotten_beyond_keep() -> None:
    sizes = BlockSizes(keep=3)
    for n in range(1, 4):
        sizes[bytes([n])] = 4
    assert sizes.get(bytes([1])) == 4  # used again: now the most recent
    sizes[bytes([4])] = 8
    assert len(sizes) == 3
    assert sizes.get(bytes([2])) is None  # the least recently used went
    assert [sizes.get(bytes([n])) for n in (1, 3, 4)] == [4, 4, 8]


def test_setdefault_keeps_what_is_known_and_remembers_what_is_not() -> None:
    sizes = BlockSizes(keep=2)
    assert sizes.setdefault(b"\x01", 8) == 8
    assert sizes.setdefault(b"\x01", 4) == 8
    assert sizes.get(bytearray(b"\x01")) == 8  # any bytes-like UID is the same tag


def test_a_library_of_tags_leaves_at_most_keep_behind() -> None:
    sizes = BlockSizes(keep=16)
    for n in range(10_000):
        sizes[n.to_bytes(8, "big")] = 4
        assert len(sizes) <= 16


def test_keep_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        BlockSizes(keep=0)


def test_the_feig_reader_keeps_the_block_sizes_of_recent_tags_only(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(block_sizes, "KEEP", 4)
    tags = [FeigTag.create(feig_uid(n), bytes(range(n, n + 64)), block_size=8, block_count=8) for n in range(1, 11)]
    with FeigPtySimulator(link_path=str(tmp_path / "feig")) as sim:
        sim.place(*tags)
        reader = FeigReader(sim.path, reply_timeout=0.3, retries=2)
        reader.open()
        try:
            for tag in tags:  # a chute: one tag after another, each read once
                assert reader.read_memory(tag.uid) == bytes(tag.memory)
            assert len(reader._block_sizes) == 4
            assert reader._block_sizes.get(tags[-1].uid) == 8
            assert reader._block_sizes.get(tags[0].uid) is None
            assert reader.read_blocks(tags[0].uid, 0, 8) == bytes(tags[0].memory)  # forgotten, still read right
        finally:
            reader.close()


def test_the_m3_reader_keeps_the_block_sizes_of_recent_tags_only(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(block_sizes, "KEEP", 4)
    tags = [M3Tag.create(m3_uid(n), bytes(range(n, n + 32))) for n in range(1, 11)]
    with M3PtySimulator(link_path=str(tmp_path / "m3")) as sim:
        sim.place(*tags)
        reader = M3810Reader(sim.path, reply_timeout=0.3, retries=2)
        reader.open()
        try:
            for tag in tags:
                assert reader.read_memory(tag.uid) == bytes(tag.memory)
            assert len(reader._block_sizes) == 4
            assert reader._block_sizes.get(tags[0].uid) is None
            assert reader.read_memory(tags[0].uid) == bytes(tags[0].memory)
        finally:
            reader.close()
