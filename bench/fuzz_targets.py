"""What ``bench/fuzz.py`` fuzzes: one entry per parser of untrusted bytes, with its adapter, its typed
errors and a seed corpus made by the codecs' own encoders.

An adapter is ``(data: bytes) -> None``: it feeds the bytes to the parser the way the kiosk does and
lets out only the target's typed errors. When one input goes through several parsing steps (a frame,
then its payload), each step catches its own typed error so the next step still runs: what escapes
the adapter is a bug, whatever its type. Adapters also check that a typed error keeps the raw bytes
(the house rule "bad input loses nothing"), and some repair a checksum so that mutations reach the
code behind it instead of dying at the CRC.

The generator at the bottom (random bytes and mutations of the seed corpus) is the fallback engine
when atheris is missing, and the deterministic input source of the smoke test in tests/bench/.

The parsers are imported when this module is, so ``bench/fuzz.py`` imports it inside atheris's
instrumentation to get coverage feedback from them.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, fields
from datetime import datetime
from itertools import cycle

from kiosk import config
from kiosk.hardware.barcode.classify import classify, publisher_barcode_type, rules_from_config
from kiosk.hardware.barcode.events import AS_SENT, Garbled, Scan, ScanFormat
from kiosk.hardware.barcode.framing import TERMINATORS, LineFramer
from kiosk.hardware.barcode.keymap import decode_key_events
from kiosk.hardware.printer import status as escpos
from kiosk.hardware.rfid.models import (
    TagData,
    TagFormatError,
    UnreadableTag,
    decode_tag,
    detect,
    iso28560_2,
    iso28560_3,
    rfid501,
)
from kiosk.hardware.rfid.readers import feig_protocol as feig
from kiosk.hardware.rfid.readers import iso15693
from kiosk.hardware.rfid.readers import m3_810_protocol as m3
from kiosk.hardware.rfid.readers import pcsc_apdu as apdu
from kiosk.hardware.rfid.readers.base import SystemInfo, TagOperationFailed
from sip2 import messages as sip2_messages
from sip2.codec import decode_frame, encode
from sip2.errors import SIP2DecodeError, SIP2EncodeError

Adapter = Callable[[bytes], None]


@dataclass(frozen=True)
class Target:
    name: str
    parser: str  # what is fuzzed, for the table
    adapter: Adapter
    errors: tuple[type[BaseException], ...]  # what may come out of the adapter; () for total functions
    seeds: Callable[[], list[bytes]]
    tokens: tuple[bytes, ...] = ()  # dictionary words for libFuzzer and the mutator
    max_len: int = 1024  # the longest input worth making: the largest the device or file really sends


class LostRawBytes(AssertionError):
    """A typed error that does not carry the bytes it refused: the input would be lost."""


def _raw_kept(exc: BaseException, data: bytes) -> None:
    if getattr(exc, "raw", data) != data:
        raise LostRawBytes(f"{type(exc).__name__} carries {exc.raw!r}, not the input")  # type: ignore[attr-defined]


# --- SIP2 ---------------------------------------------------------------------------------------------

_UNDECODABLE = "undecodable frame ("  # sip2.codec's catch-all: a bug surfaced as the typed error


def sip2_decode(data: bytes) -> None:
    """decode_frame, tolerant and strict, then encode again whatever decodes.

    The codec turns any unexpected exception into SIP2DecodeError("undecodable frame (...)") so the kiosk
    keeps running; here that is unmasked, since it means a bug in the decoder."""
    for strict in (False, True):
        try:
            frame = decode_frame(data, strict=strict)
        except SIP2DecodeError as exc:
            _raw_kept(exc, data)
            if exc.reason.startswith(_UNDECODABLE) and exc.__cause__ is not None:
                raise exc.__cause__ from None
            continue
        with contextlib.suppress(SIP2EncodeError):
            encode(frame.message, sequence=frame.sequence)


def _filled(cls: type[sip2_messages.Message]) -> sip2_messages.Message:
    """A message with every variable field set and dates filled in: more of the layout in one frame."""
    values: dict[str, object] = {}
    for field_id, attr, kind, _required in cls._layout.variables:
        values[attr] = ("a1", "b2") if kind == "list" else None if kind not in ("text", "list") else f"x{field_id}"
    for field in fields(cls):
        if field.type in ("datetime | None", "datetime") and field.name not in values:
            values[field.name] = datetime(2026, 12, 11, 0, 40, 6)
    values = {k: v for k, v in values.items() if v is not None}
    try:
        return cls(**values)
    except (TypeError, ValueError):
        return cls()


def sip2_seeds() -> list[bytes]:
    seeds = []
    for cls in sip2_messages.MESSAGE_TYPES.values():
        for msg in (cls(), _filled(cls)):
            for sequence in (None, 3):
                with contextlib.suppress(SIP2EncodeError):
                    seeds.append(encode(msg, sequence=sequence))
    seeds.append(
        encode(
            sip2_messages.PatronInformationResponse(
                institution_id="I", patron_id="p", personal_name="Ærø", charged_items=("1", "2"),
                screen_messages=("hi",),
            ),
            sequence=7,
        )
    )
    seeds.append(b"96AZFEF6\r")
    return sorted(set(seeds))


SIP2_TOKENS = (b"|", b"\r", b"AY", b"AZ", b"AO", b"AA", b"AB", b"AC", b"AD", b"CN", b"CO", b"AF", b"AG",
               b"BK", b"CH", b"XX", b"    ", b"20261211    004006", b"YYYY", b"NNNN")


# --- tag data models ------------------------------------------------------------------------------------


def _tag_decoders(parse: Callable[[bytes], object], decode: Callable[[bytes], TagData], data: bytes) -> None:
    for decoder in (parse, decode):
        try:
            decoder(data)
        except TagFormatError as exc:
            _raw_kept(exc, data)


def _with_basic_block_crc(data: bytes) -> bytes | None:
    """The memory with its 28560-3 basic-block CRC made right, so mutations reach the fields behind it."""
    if len(data) < iso28560_3.TRUNCATED_BLOCK_SIZE:
        return None
    truncated = len(data) < iso28560_3.BASIC_BLOCK_SIZE
    crc = iso28560_3.basic_block_crc(data, truncated)
    return data[:19] + crc.to_bytes(2, "little") + data[21:]


def tag_iso28560_3(data: bytes) -> None:
    _tag_decoders(iso28560_3.parse, iso28560_3.decode, data)
    repaired = _with_basic_block_crc(data)
    if repaired is not None and repaired != data:
        _tag_decoders(iso28560_3.parse, iso28560_3.decode, repaired)


def tag_iso28560_2(data: bytes) -> None:
    _tag_decoders(iso28560_2.parse, iso28560_2.decode, data)


def tag_rfid501(data: bytes) -> None:
    _tag_decoders(rfid501.parse, rfid501.decode, data)


def tag_detect(data: bytes) -> None:
    """decode_tag never raises: first byte the DSFID (0xFF: none), the rest the memory.

    Its memo is emptied first: a fuzzed input is new anyway, and the baseline's repeated seeds would
    otherwise measure the memo instead of the decoders."""
    dsfid = None if not data or data[0] == 0xFF else data[0]
    memory = data[1:]
    detect._decode.cache_clear()
    result = decode_tag(memory, dsfid)
    if not isinstance(result, TagData | UnreadableTag) or result.raw != memory:
        raise LostRawBytes(f"decode_tag gave {result!r}")


def _pad(memory: bytes, size: int = 112) -> bytes:
    return memory + bytes(max(0, size - len(memory)))


def iso28560_3_seeds() -> list[bytes]:
    tag = iso28560_3.Iso28560_3Tag
    block = iso28560_3.ExtensionBlock
    tags = [
        tag("1234567890", country="DK", library="718500"),
        tag("5012345678", usage_type=8, parts_in_set=2, part_number=2, country="US", library="InU-Mu12345"),
        tag("x", usage_type=3, dm11=True),
        tag("1234567890", country="DK", library="718500",
            extension_blocks=(block(4, b"Title"), block(3, b"A1\x00B\x00C"), block(0x123456, b"z"))),
        tag("A" * 20, country="DE", library="Tue1",
            extension_blocks=(iso28560_3.library_extension_block("A" * 20, 1, "DE-Tue1"),)),
    ]
    seeds = [iso28560_3.encode(t) for t in tags]
    seeds.append(iso28560_3.encode(tag("123", truncated=True)))
    seeds += [_pad(s) for s in seeds[:2]]
    seeds.append(iso28560_3.reverse_blocks(_pad(seeds[0])))
    return seeds


def iso28560_2_seeds() -> list[bytes]:
    tags = [
        iso28560_2.build("123456789012", owner_library="US-InU-Mu", parts_in_set=12, part_number=3,
                         type_of_usage=0x10, others=[(6, "QA268.L55"), (17, "Title"), (9, "supplier")]),
        iso28560_2.build("B00042", type_of_usage=0x80),
        iso28560_2.build("30012345678", owner_library="FI-Hki", with_content_parameter=False,
                         others=[(17, "Äiti ja lapsi"), (11, "FI-Tre"), (15, "1234"), (40, "x")]),
    ]
    seeds = [iso28560_2.encode(tags[0], lock_oids={1, 3}), iso28560_2.encode(tags[1]),
             iso28560_2.encode(tags[2], block_size=8)]
    seeds.append(bytes([0x61, 6]) + b"B00042" + b"\x00")  # octet-string PII, as tags in the field have it
    return seeds + [_pad(s) for s in seeds[:2]]


def rfid501_seeds() -> list[bytes]:
    tag = rfid501.Rfid501Tag
    seeds = [rfid501.encode(tag("200901010123", branch=3, library=77)),
             rfid501.encode(tag("1", item_number=2, set_size=3, item_type=6, custom=-5)),
             rfid501.encode(tag("X" * 16, branch=0xFFF, library=0xFFFFF))]
    return seeds + [s[:24] for s in seeds] + [_pad(seeds[0])]


def detect_seeds() -> list[bytes]:
    memories = iso28560_3_seeds() + iso28560_2_seeds() + rfid501_seeds() + [bytes(32), b"\x55" * 32]
    dsfids = cycle((0x3E, 0x06, 0x00, 0xFF))
    return [bytes((next(dsfids),)) + memory for memory in memories]


# --- FEIG ISC and 3M 810 frames -----------------------------------------------------------------------

UID = bytes.fromhex("E004010012345678")


def _check(step: Callable[[], object], errors: tuple[type[BaseException], ...], raw: bytes | None = None) -> None:
    """Run one parsing step; its typed error is an answer, anything else escapes as a bug."""
    try:
        step()
    except errors as exc:
        if raw is not None:
            _raw_kept(exc, raw)


def _drain(decoder: feig.FrameDecoder | m3.FrameDecoder, data: bytes, on_frame: Callable[[object], None]) -> None:
    """Feed the stream in three pieces, take every frame out, then once more with the line idle.

    Every next_frame call must consume input or return None: a decoder that does neither would spin
    forever in the serial link, so that is reported as a bug here rather than as a hang."""
    errors = decoder.error_type
    third = max(1, len(data) // 3)
    pieces = [data[:third], data[third : 2 * third], data[2 * third :]]
    budget = len(data) + 2 * len(pieces) + 4
    for idle in (False, False, False, True):
        if not idle:
            decoder.feed(pieces.pop(0))
        while True:
            budget -= 1
            if budget < 0:
                raise AssertionError("stream decoder returned neither a frame nor None without consuming input")
            try:
                frame = decoder.next_frame(line_idle=idle)
            except errors:
                continue
            if frame is None:
                break
            on_frame(frame)


def _feig_payloads(reply: feig.Reply) -> None:
    for parse in (feig.parse_inventory, feig.parse_read_blocks, lambda r: feig.parse_system_info(r, UID),
                  feig.parse_write_status, feig.parse_eas_alarm):
        _check(lambda parse=parse: parse(reply), (feig.FeigProtocolError,))


def _feig_request_payloads(request: feig.Request) -> None:
    for parse in (feig.parse_write_blocks_request, feig.parse_addressed_request, feig.parse_custom_request):
        _check(lambda parse=parse: parse(request.data), (feig.FeigFrameError,), request.data)


def _feig_frame_repaired(data: bytes) -> bytes | None:
    """The bytes with FEIG's length field and CRC made right (standard or advanced frame)."""
    if len(data) < 3:
        return None
    if data[0] == feig.STX:
        body = data[3:-2]
        length = len(body) + 5
        if length > 0xFFFF:
            return None
        head = bytes((feig.STX, length >> 8, length & 0xFF)) + body
    else:
        body = data[1:-2]
        length = len(body) + 3
        if length > 255:
            return None
        head = bytes((length,)) + body
    return head + feig.crc16(head).to_bytes(2, "little")


def feig_frames(data: bytes) -> None:
    """parse_reply / parse_request on the bytes and on the bytes with length and CRC repaired, then every
    payload parser on what they decode."""
    for frame in (data, _feig_frame_repaired(data)):
        if frame is None:
            continue
        try:
            _feig_payloads(feig.parse_reply(frame))
        except feig.FeigFrameError as exc:
            _raw_kept(exc, frame)
        try:
            _feig_request_payloads(feig.parse_request(frame))
        except feig.FeigFrameError as exc:
            _raw_kept(exc, frame)


def feig_stream(data: bytes) -> None:
    def on_frame(frame: object) -> None:
        if isinstance(frame, feig.Reply):
            _feig_payloads(frame)

    _drain(feig.FrameDecoder("reply"), data, on_frame)
    _drain(feig.FrameDecoder("request"), data, lambda frame: None)
    _drain(feig.FrameDecoder("reply", expect_command=feig.Command.ISO_HOST), data, on_frame)


def feig_seeds() -> list[bytes]:
    entries = [feig.InventoryEntry(3, 0x3E, UID), feig.InventoryEntry(3, 0, UID[::-1])]
    info = SystemInfo(UID, 0x3E, 0x07, 28, 4, 1)
    replies = [
        feig.Reply(0xB0, feig.Status.OK, feig.build_inventory_data(entries)),
        feig.Reply(0xB0, feig.Status.MORE_DATA, feig.build_inventory_data(entries[:1])),
        feig.Reply(0xB0, feig.Status.OK, feig.build_read_blocks_data(4, bytes(range(32)))),
        feig.Reply(0xB0, feig.Status.OK, feig.build_system_info_data(info)),
        feig.Reply(0xB0, feig.Status.ISO15693_ERROR, b"\x0f"),
        feig.Reply(0xB0, feig.Status.NO_TRANSPONDER),
        feig.Reply(0x66, 0x00, b"\x9a\x01"),
        feig.Reply(0xB0, feig.Status.OK, feig.build_read_blocks_data(4, bytes(300)), advanced=True),
    ]
    requests = [
        feig.inventory_request(),
        feig.read_blocks_request(UID, 0, 8),
        feig.write_blocks_request(UID, 2, 4, b"ABCDEFGH"),
        feig.write_afi_request(UID, 0x07),
        feig.system_info_request(UID),
        feig.nxp_custom_request(feig.NxpCommand.EAS_ALARM, UID),
    ]
    frames = [feig.build_reply(r) for r in replies] + [feig.build_request(r) for r in requests]
    return [*frames, frames[0] + frames[2], b"\x00\x07" + frames[1]]


def _m3_payloads(reply: m3.Reply) -> None:
    data = reply.data
    uid = data[:8] if len(data) >= 8 else UID  # the echoed UID, so the parsers get past the echo check
    first = data[9] if len(data) > 10 else None
    parsers: tuple[Callable[[], object], ...] = (
        lambda: m3.parse_version(reply),
        lambda: m3.parse_inventory(reply),
        lambda: m3.parse_read_blocks(reply, uid),
        lambda: m3.parse_read_blocks(reply, uid, first),
        lambda: m3.parse_write_blocks(reply, uid),
        lambda: m3.parse_write_block(reply, uid),
        lambda: m3.parse_afi(reply, uid),
        lambda: m3.parse_write_afi(reply, uid),
        lambda: m3.parse_check_eas(reply, uid),
        lambda: m3.parse_eas_control(reply, uid),
        lambda: m3.parse_tag_info(reply, uid),
    )
    for parse in parsers:
        _check(parse, (m3.M3ProtocolError,))


def _m3_request_payloads(request: m3.Request) -> None:
    for parse in (m3.parse_addressed_request, m3.parse_write_blocks_request):
        _check(lambda parse=parse: parse(request), (m3.M3FrameError,), request.data)


def _m3_frame_repaired(data: bytes) -> bytes | None:
    """The bytes with the 3M LEN field and BCC made right."""
    if not 5 <= len(data) <= m3.MAX_LENGTH + 3:
        return None
    start = data[0] if data[0] in (m3.START, m3.START_SETUP) else m3.START
    head = (len(data) - 3).to_bytes(2, "big") + data[3:-2]
    return bytes((start,)) + head + m3.bcc(head).to_bytes(2, "big")


def m3_frames(data: bytes) -> None:
    for frame in (data, _m3_frame_repaired(data)):
        if frame is None:
            continue
        try:
            _m3_payloads(m3.parse_reply(frame))
        except m3.M3FrameError as exc:
            _raw_kept(exc, frame)
        try:
            _m3_request_payloads(m3.parse_request(frame))
        except m3.M3FrameError as exc:
            _raw_kept(exc, frame)


def m3_stream(data: bytes) -> None:
    def on_frame(frame: object) -> None:
        if isinstance(frame, m3.Reply):
            _m3_payloads(frame)

    _drain(m3.FrameDecoder("reply"), data, on_frame)
    _drain(m3.FrameDecoder("request"), data, lambda frame: None)
    _drain(m3.FrameDecoder("reply", expect_command=m3.Command.READ_MULTIBLOCK), data, on_frame)


def m3_seeds() -> list[bytes]:
    info = SystemInfo(UID, 0x3E, 0x07, 28, 4, 1)
    replies = [
        m3.Reply(m3.Command.INVENTORY, 0, m3.build_inventory_data([UID, UID[::-1]])),
        m3.Reply(m3.Command.READ_MULTIBLOCK, 0, m3.build_read_blocks_data(UID, 0, 4, bytes(range(32)))),
        m3.addressed_reply(m3.Command.WRITE_MULTIBLOCK, UID, b"\x02"),
        m3.addressed_reply(m3.Command.GET_AFI, UID, b"\x07"),
        m3.addressed_reply(m3.Command.CHECK_EAS, UID, b"\x01"),
        m3.addressed_reply(m3.Command.WRITE_AFI, UID),
        m3.Reply(m3.Command.TAG_INFO, 0, m3.build_tag_info_data(info)),
        m3.addressed_reply(m3.Command.WRITE_AFI, UID, error=m3.ErrorCode(6)),
        m3.build_version_reply(m3.version_probe(), (1, 2, 3, 4)),
        m3.build_version_reply(m3.version_request(), (5, 6)),
    ]
    requests = [
        m3.version_probe(),
        m3.inventory_request(),
        m3.read_blocks_request(UID, 0, 8),
        m3.write_blocks_request(UID, 2, 4, b"ABCDEFGH"),
        m3.write_afi_request(UID, 7),
        m3.tag_info_request(UID),
        m3.eas_control_request(UID, m3.EasAction.SET),
    ]
    frames = [m3.build_reply(r) for r in replies] + [m3.build_request(r) for r in requests]
    return [*frames, frames[0] + frames[1], b"\xd6\x01\x00" + frames[2]]


# --- ESC/POS real-time status -----------------------------------------------------------------------

_STATUS_DECODERS = {
    escpos.PRINTER: escpos.PrinterFlags.decode,
    escpos.OFFLINE_CAUSE: escpos.OfflineCause.decode,
    escpos.ERROR_CAUSE: escpos.ErrorCause.decode,
    escpos.PAPER: escpos.PaperSensor.decode,
}


def escpos_status(data: bytes) -> None:
    """The printer driver's question loop with the bytes as the printer's answers (running out: silence),
    every byte through every DLE EOT decoder, and the bytes as an arbitrary answer table."""
    for n, decode in _STATUS_DECODERS.items():
        for byte in data:
            try:
                decode(byte)
            except escpos.StatusByteError as exc:
                if (exc.n, exc.byte) != (n, byte):
                    raise AssertionError(f"StatusByteError({exc.n}, {exc.byte}) for DLE EOT {n} byte {byte}") from None
    answers = iter(data)
    replies: dict[int, int | None] = {}
    while (n := escpos.needed(replies)) is not None:
        if n in replies:
            raise AssertionError(f"needed() asks DLE EOT {n} again: the driver would loop")
        replies[n] = next(answers, None)
    _status_words(replies)
    pairs = zip(data[::2], data[1::2], strict=False)
    _status_words({key % 6: (None if value == 0xFF else value) for key, value in pairs})


def _status_words(replies: dict[int, int | None]) -> None:
    state = escpos.interpret(replies)
    escpos.garbled(replies)
    if not isinstance(state.health, tuple) or not isinstance(state.can_print, bool):
        raise AssertionError(f"interpret gave {state!r}")


def escpos_seeds() -> list[bytes]:
    flags = [escpos.PrinterFlags(), escpos.PrinterFlags(offline=True)]
    causes = [escpos.OfflineCause(), escpos.OfflineCause(cover_open=True), escpos.OfflineCause(error=True),
              escpos.OfflineCause(paper_end_stop=True)]
    errors = [escpos.ErrorCause(), escpos.ErrorCause(cutter=True), escpos.ErrorCause(auto_recoverable=True)]
    paper = [escpos.PaperSensor(), escpos.PaperSensor(near_end=True), escpos.PaperSensor(end=True)]
    seeds = [bytes((f.encode(), p.encode())) for f in flags for p in paper]
    seeds += [bytes((flags[1].encode(), c.encode(), e.encode(), p.encode())) for c in causes for e in errors
              for p in paper[:1]]
    return seeds


# --- configuration ----------------------------------------------------------------------------------

#: The required keys and nothing else: the fuzzed file is layered on this, as a site's kiosk.toml is on
#: the package defaults. The 31 KB defaults themselves are trusted input, and parsing them would be
#: most of each execution's time.
CONFIG_BASE = config.Layer(
    "built-in base",
    b'[site]\nname = "Fuzz Library"\ninstitution_id = "FUZZ"\n[sip2]\nhost = "127.0.0.1"\ntls = false\n'
    b"allow_plain_tcp = true\n",
    kind="defaults",
)
CONFIG_FILE = "/etc/kiosk/kiosk.d/50-fuzz.toml"


def config_loader(data: bytes) -> None:
    """parse_layers over the base and the fuzzed file: a LoadedConfig or ConfigError, one line per problem."""
    try:
        config.parse_layers([CONFIG_BASE, config.Layer(CONFIG_FILE, data, world_readable=False)])
    except config.ConfigError as exc:
        if not exc.problems or any("\n" in p or "\r" in p for p in exc.problems):
            raise AssertionError(f"ConfigError problems not one line each: {exc.problems!r}") from None
        raise


def config_seeds() -> list[bytes]:
    """The package defaults as ``kiosk config check --show`` renders them (the loader's own writer), cut
    into one file per table, plus a few hand-written site files."""
    rendered = config.render(config.parse_layers([config.defaults_layer()]))
    tables = ["[" + part for part in rendered.split("\n[")[1:]]
    seeds = [t.encode() for t in tables]
    seeds += [
        b'[sip2]\nhost = "ils.example.org"\nport = 6443\ntls = true\nusername = "kiosk"\n',
        b'[site]\nname = "Branch"\ntimezone = "Europe/Berlin"\nlanguage = "de"\n',
        b'[sip2]\npassword = "secret"\nencoding = "utf-8"\n[offline]\n',
    ]
    return seeds


CONFIG_TOKENS = (b"[", b"]", b"[[", b"]]", b" = ", b'"', b"'", b'"""', b"\n", b"#", b"true", b"false", b"{", b"}",
                 b",", b".", b"inf", b"nan", b"0x", b"1979-05-27T07:32:00Z", b"\\u00e9", b"[sip2]", b"[site]")


# --- barcode scanners -----------------------------------------------------------------------------------

_RULES = rules_from_config({
    "rules": [
        {"kind": "patron", "pattern": r"P?\d{6,10}", "check": "luhn", "strip_prefix": "P", "name": "cards"},
        {"kind": "item", "pattern": r"3\d{13}", "check": "codabar14"},
        {"kind": "item", "pattern": r"[A-Z]{2}\d+", "name": "alpha"},
    ],
    "strip_prefixes": ["]C0"],
    "strip_suffixes": ["\t"],
})
_FORMATS = (AS_SENT, ScanFormat(strip_prefix="#", strip_suffix="$", aim_identifier=True))
_AT = datetime(2026, 11, 27, 12, 0, 0)


def barcode_scanner(data: bytes) -> None:
    """A serial scanner's byte stream through the line framer (each terminator, with a pause that lets the
    idle timeout fire), the decode to text, the scan format and the classifier; the bytes as key events
    through the keyboard-wedge decoder. All of it is total: results, never exceptions."""
    half = len(data) // 2
    pause = 1.0 if len(data) % 2 else 0.1
    for terminator in TERMINATORS.values():
        framer = LineFramer(terminator, max_length=64, idle_timeout=0.5)
        frames = framer.feed(data[:half], 0.0) + framer.feed(data[half:], pause) + framer.poll(pause + 10)
        for frame in frames:
            for encoding in ("ascii", "latin-1"):
                text = frame if isinstance(frame, Garbled) else _decoded(frame, encoding)
                for scan_format in _FORMATS:
                    event = scan_format.to_event(text, "fuzz", _AT)
                    if isinstance(event, Scan):
                        classify(event.text, _RULES, event.symbology)
                        classify(event.text)
    text = data.decode("latin-1")
    classify(text, _RULES)
    publisher_barcode_type(text)
    decode_key_events(zip(data[::2], (v % 3 for v in data[1::2]), strict=False))


def _decoded(frame: bytes, encoding: str) -> str | Garbled:
    """What SerialScanner does with a frame's bytes."""
    try:
        return frame.decode(encoding)
    except UnicodeDecodeError as exc:
        return Garbled(frame, f"not {encoding} text: {exc.reason}")


def barcode_seeds() -> list[bytes]:
    return [b"20000000000016\r", b"30000000000015\r\n", b"P79927398713\r", b"]E09780306406157\r",
            b"A30000000000015B\n", b"AB123\r", b"9780306406157 12345\r", b"\x1e\x15\x1c\x1c", b"#]C0AB12$\r"]


# --- PC/SC pseudo-APDUs and ISO 15693 responses ------------------------------------------------------------

_ISO_PARSERS: tuple[Callable[[bytes], object], ...] = (
    iso15693.parse_response,
    iso15693.parse_write_response,
    lambda frame: iso15693.parse_read_blocks(frame, 4, 8),
    iso15693.parse_eas_alarm,
    iso15693.parse_system_info,
    iso15693.decode_request,
)


def pcsc_apdu(data: bytes) -> None:
    """A reader's response APDU through every PC/SC parser; the tag's own answer it carries (or the bytes
    themselves) through the ISO 15693 response parsers; the bytes as an ATR."""
    apdu.classify_atr(data)
    apdu.storage_card_name(data)
    inner: list[bytes] = [data]
    for parse in (apdu.parse_transparent_response, apdu.parse_direct_transmit):
        try:
            answer = parse(data)
        except TagOperationFailed:
            continue
        if answer is not None:
            inner.append(answer)
    for step in (lambda: apdu.parse_session_response(data, "start session"), lambda: apdu.parse_tlvs(data),
                 lambda: apdu.split_sw(data), lambda: apdu.normalise_uid(data[:8])):
        _check(step, (TagOperationFailed,))
    for frame in inner:
        for parse in _ISO_PARSERS:
            _check(lambda parse=parse, frame=frame: parse(frame), (TagOperationFailed,))


def pcsc_seeds() -> list[bytes]:
    status_ok = apdu.encode_tlv(apdu.TAG_GENERIC_ERROR, b"\x00\x90\x00")
    silent = apdu.encode_tlv(apdu.TAG_GENERIC_ERROR, b"\x00\x64\x01")
    info = iso15693.encode_system_info(SystemInfo(UID, 0x3E, 0x07, 28, 4, 1))
    answers = [b"\x00" + bytes(range(32)), info, iso15693.encode_error(0x0F), b"\x00", b"\x00\x7a"]
    seeds = [status_ok + apdu.encode_tlv(apdu.TAG_CARD_RESPONSE, a) + b"\x90\x00" for a in answers]
    seeds += [silent + b"\x90\x00", status_ok + b"\x90\x00", b"\x63\x00", b"\x6a\x81"]
    seeds += [a + b"\x90\x00" for a in answers]
    seeds += [bytes.fromhex("3B8F8001804F0CA0000003060B00140000000077"), bytes.fromhex("3B8180018080"),
              UID, UID[::-1]]
    return seeds


TARGETS: dict[str, Target] = {
    t.name: t
    for t in (
        Target("sip2", "sip2.codec.decode_frame (+ encode)", sip2_decode, (SIP2DecodeError,), sip2_seeds,
               SIP2_TOKENS, max_len=4096),
        Target("tag-iso28560-3", "models.iso28560_3 parse/decode", tag_iso28560_3, (TagFormatError,),
               iso28560_3_seeds),
        Target("tag-iso28560-2", "models.iso28560_2 parse/decode", tag_iso28560_2, (TagFormatError,),
               iso28560_2_seeds),
        Target("tag-rfid501", "models.rfid501 parse/decode", tag_rfid501, (TagFormatError,), rfid501_seeds),
        Target("tag-detect", "models.decode_tag (never raises)", tag_detect, (), detect_seeds),
        Target("feig-frames", "feig_protocol parse_reply/request + payloads", feig_frames, (), feig_seeds),
        Target("feig-stream", "feig_protocol.FrameDecoder (stream)", feig_stream, (), feig_seeds),
        Target("m3-frames", "m3_810_protocol parse_reply/request + payloads", m3_frames, (), m3_seeds),
        Target("m3-stream", "m3_810_protocol.FrameDecoder (stream)", m3_stream, (), m3_seeds),
        Target("escpos-status", "printer.status DLE EOT decode/needed/interpret", escpos_status, (),
               escpos_seeds, max_len=16),
        Target("config", "config.parse_layers (TOML text)", config_loader, (config.ConfigError,), config_seeds,
               CONFIG_TOKENS, max_len=4096),
        Target("barcode", "barcode framing/scan format/classify/keymap", barcode_scanner, (), barcode_seeds,
               max_len=512),
        Target("pcsc-apdu", "pcsc_apdu + iso15693 response parsers", pcsc_apdu, (), pcsc_seeds, max_len=512),
    )
}


# --- the fallback engine: random bytes and mutations of the seeds -------------------------------------------

_INTERESTING = (b"\x00", b"\xff", b"\x7f", b"\x80", b"\r", b"\n", b"\r\n", b"|", b" ", b"0", b"1", b"9",
                b"\x00\x00", b"\xff\xff", b"\x01\x00", b"\x00\x01")


def mutate(rng: random.Random, data: bytes, corpus: list[bytes], tokens: tuple[bytes, ...]) -> bytes:
    """One to four edits of ``data``: byte and bit flips, inserted tokens, deletions, splices with another
    seed, truncation, duplicated runs, random runs (the classic havoc set, without coverage feedback)."""
    out = bytearray(data)
    words = _INTERESTING + tokens
    for _ in range(rng.randint(1, 4)):
        pos = rng.randrange(len(out) + 1)
        op = rng.randrange(8)
        if op == 0 and out:
            out[min(pos, len(out) - 1)] = rng.randrange(256)
        elif op == 1 and out:
            out[min(pos, len(out) - 1)] ^= 1 << rng.randrange(8)
        elif op == 2:
            out[pos:pos] = rng.choice(words)
        elif op == 3 and out:
            del out[pos : pos + rng.randint(1, 16)]
        elif op == 4:
            other = rng.choice(corpus)
            cut = rng.randrange(len(other) + 1)
            out = out[:pos] + other[cut:]
        elif op == 5:
            del out[pos:]
        elif op == 6:
            start = rng.randrange(len(out) + 1)
            out[pos:pos] = out[start : start + rng.randint(1, 32)]
        else:
            out[pos:pos] = rng.randbytes(rng.randint(1, 8))
    return bytes(out)


def generate(target: Target, count: int, seed: int, corpus: list[bytes] | None = None) -> Iterator[bytes]:
    """``count`` inputs, the same for the same seed: one in ten random bytes, the rest mutated seeds."""
    rng = random.Random(f"{seed}:{target.name}")
    corpus = corpus if corpus is not None else target.seeds()
    for _ in range(count):
        if rng.random() < 0.1 or not corpus:
            yield rng.randbytes(rng.randint(0, min(96, target.max_len)))
        else:
            yield mutate(rng, rng.choice(corpus), corpus, target.tokens)[: target.max_len]
