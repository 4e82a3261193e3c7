"""[rfid]: which reader the pad is, how to reach it, which tag data model staff write, what the
security gates read, and whose card an ISO 14443 card on the pad is.

A schema section in the style of :mod:`kiosk.config` (frozen dataclass of ``setting(...)`` fields),
declared next to the drivers so a key's meaning and the code that uses it stay together. The
readers' own parameters are the drivers' (:class:`~kiosk.hardware.rfid.readers.feig.FeigReader`,
:class:`~kiosk.hardware.rfid.readers.m3_810.M3810Reader`,
:class:`~kiosk.hardware.rfid.readers.pcsc.PcscReader`); the security values are a
:class:`~kiosk.hardware.rfid.security.SecurityScheme`; the watcher's timings and its
:class:`~kiosk.hardware.rfid.patron_card_uid.PatronCardIds` a
:class:`~kiosk.hardware.rfid.watcher.WatcherSettings`. :func:`check_rfid` holds the checks between
keys for ``kiosk.config.CROSS_CHECKS``; the ``*_from`` functions turn the section into those objects.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kiosk.config_schema import (
    Check,
    boolean,
    integer,
    non_negative_number,
    one_of,
    positive_number,
    setting,
    sip2_text,
    text,
)
from kiosk.hardware.rfid.models import TagEncodeError, iso28560_2, iso28560_3
from kiosk.hardware.rfid.patron_card_uid import UID_FORMATS, PatronCardIds, UidFormat
from kiosk.hardware.rfid.security import SecurityScheme
from kiosk.hardware.rfid.watcher import WatcherSettings

if TYPE_CHECKING:
    from kiosk.hardware.rfid.readers.base import TagReader

DRIVERS = ("none", "pcsc", "feig", "m3_810")
SERIAL_DRIVERS = ("feig", "m3_810")
#: The baud rate each serial driver uses when ``baudrate = 0``: FEIG CPR readers ship at 38400
#: (8E1), 3M 810 pads talk 19200 (8N1).
DEFAULT_BAUDRATES = {"feig": 38400, "m3_810": 19200}
PCSC_TRANSPORTS = ("transparent", "acs_direct")
#: Data models staff tag programming writes (any supported model is read, whatever this says).
WRITABLE_MODELS = (iso28560_3.MODEL, iso28560_2.MODEL)


def baud_rate() -> Check:
    return Check(
        "0 (the driver's own default) or a baud rate 1200-921600",
        lambda v: isinstance(v, int) and not isinstance(v, bool) and (v == 0 or 1200 <= v <= 921600),
    )


def byte_value() -> Check:
    return Check("a byte 0-255 (TOML takes hex: 0xC2)", lambda v: isinstance(v, int) and not isinstance(v, bool)
                 and 0 <= v <= 0xFF)


@dataclass(frozen=True, kw_only=True)
class RfidSettings:
    """[rfid]: the RFID pad (or the returns chute's reader)."""

    driver: str = setting("none", check=one_of(*DRIVERS), doc="reader driver; none: no RFID reader")
    port: str = setting("", check=text(), doc="serial port of a feig or m3_810 reader")
    baudrate: int = setting(0, check=baud_rate(), doc="serial speed; 0: the driver's default")
    reply_timeout_seconds: float = setting(
        0.0, check=non_negative_number(), doc="serial readers: wait this long for one reply; 0: the driver's own"
    )
    feig_parity: str = setting("E", check=one_of("E", "N", "O"), doc="FEIG serial parity (8 data bits, 1 stop)")
    feig_com_adr: int = setting(255, check=byte_value(), doc="FEIG bus address; 255: any reader")
    feig_advanced_protocol: bool = setting(False, check=boolean(), doc="send FEIG advanced (STX) frames")
    pcsc_reader: str = setting("", check=text(), doc="part of the PC/SC reader's name; empty: the first")
    pcsc_transport: str = setting(
        "transparent", check=one_of(*PCSC_TRANSPORTS), doc="how ISO 15693 frames reach a PC/SC reader's tag"
    )
    patron_card_uid: str = setting(
        "none", check=one_of(*UID_FORMATS),
        doc="ISO 14443 cards (MIFARE, DESFire) on a PC/SC pad are patron cards numbered by their UID, "
            "written this way; none: they are unreadable",
    )
    patron_card_prefix: str = setting(
        "", check=sip2_text(), doc="text put before that number (the card system's prefix)"
    )
    model: str = setting(iso28560_3.MODEL, check=one_of(*WRITABLE_MODELS), doc="data model staff write to tags")
    owner_library: str = setting("", check=text(), doc="owner ISIL written to tags; empty: none")
    use_afi: bool = setting(True, check=boolean(), doc="the gates read AFI")
    use_eas: bool = setting(True, check=boolean(), doc="the gates read the NXP EAS bit")
    afi_on_loan: int = setting(0xC2, check=byte_value(), doc="AFI of an item on loan (no alarm)")
    afi_in_library: int = setting(0x07, check=byte_value(), doc="AFI of an item in the library (alarms)")
    write_attempts: int = setting(2, check=integer(1, 10), doc="write + read-back cycles per tag and command")
    poll_seconds: float = setting(0.05, check=positive_number(), doc="time between inventories of the pad")
    depart_polls: int = setting(3, check=integer(1, 100), doc="missed inventories before a tag has left")
    depart_seconds: float = setting(0.15, check=positive_number(), doc="and at least this long unseen")
    settle_seconds: float = setting(0.1, check=positive_number(), doc="unchanged this long: the stack is stable")
    read_attempts: int = setting(3, check=integer(1, 10), doc="reads of a new tag before it is unreadable")
    reopen_seconds: float = setting(1.0, check=positive_number(), doc="wait between reopening a lost reader")


def scheme_from(rfid: RfidSettings) -> SecurityScheme:
    """The site's security scheme (valid settings make a valid scheme: :func:`check_rfid`)."""
    return SecurityScheme(use_afi=rfid.use_afi, use_eas=rfid.use_eas, afi_on_loan=rfid.afi_on_loan,
                          afi_in_library=rfid.afi_in_library)


def watcher_settings_from(rfid: RfidSettings) -> WatcherSettings:
    return WatcherSettings(poll_interval=rfid.poll_seconds, depart_polls=rfid.depart_polls,
                           depart_after=rfid.depart_seconds, settle_time=rfid.settle_seconds,
                           read_attempts=rfid.read_attempts, reopen_interval=rfid.reopen_seconds,
                           patron_cards=patron_cards_from(rfid))


def patron_cards_from(rfid: RfidSettings) -> PatronCardIds:
    return PatronCardIds(UidFormat(rfid.patron_card_uid), rfid.patron_card_prefix)


def reader_from(rfid: RfidSettings) -> TagReader | None:
    """The configured driver, not opened (the tag watcher opens it, and reopens it when lost); None
    for ``driver = "none"``. Drivers import here, so a kiosk without PC/SC never loads pyscard."""
    if rfid.driver == "feig":
        from kiosk.hardware.rfid.readers.feig import FeigReader

        return FeigReader(rfid.port, baudrate=rfid.baudrate or DEFAULT_BAUDRATES["feig"], parity=rfid.feig_parity,
                          com_adr=rfid.feig_com_adr, advanced_protocol=rfid.feig_advanced_protocol,
                          **_reply_timeout(rfid))
    if rfid.driver == "m3_810":
        from kiosk.hardware.rfid.readers.m3_810 import M3810Reader

        return M3810Reader(rfid.port, baudrate=rfid.baudrate or DEFAULT_BAUDRATES["m3_810"], **_reply_timeout(rfid))
    if rfid.driver == "pcsc":
        from kiosk.hardware.rfid.readers.pcsc import AcsDirectTransmit, PcscReader, TransparentExchange

        transport = AcsDirectTransmit() if rfid.pcsc_transport == "acs_direct" else TransparentExchange()
        return PcscReader(rfid.pcsc_reader, transport=transport)
    return None


def check_rfid(settings: Any, origin: Any) -> Iterator[str]:
    """Cross-key checks of [rfid] (a ``kiosk.config.CrossCheck``: settings, provenance -> lines)."""
    rfid: RfidSettings = settings.rfid
    if rfid.driver in SERIAL_DRIVERS and not rfid.port.strip():
        yield (f'{origin.label("rfid.driver")}: rfid.driver: "{rfid.driver}" needs rfid.port: the serial port, '
               "e.g. /dev/serial/by-id/...")
    if not (rfid.use_afi or rfid.use_eas):
        yield (f"{origin.label('rfid.use_eas')}: rfid.use_eas: expected true when rfid.use_afi = false "
               "(the gates must read AFI, EAS or both), got false")
    if rfid.use_afi and rfid.afi_on_loan == rfid.afi_in_library:
        yield (f"{origin.label('rfid.afi_on_loan')}: rfid.afi_on_loan: expected a value other than "
               f"rfid.afi_in_library (0x{rfid.afi_in_library:02X}): the gates could not tell them apart, "
               f"got 0x{rfid.afi_on_loan:02X}")
    if rfid.owner_library and rfid.model == iso28560_3.MODEL:
        try:
            iso28560_3.owner_fields(rfid.owner_library)
        except TagEncodeError as exc:
            yield f"{origin.label('rfid.owner_library')}: rfid.owner_library: {exc}"


def _reply_timeout(rfid: RfidSettings) -> dict[str, float]:
    """The reply timeout when the site set one (a busy Pi, a slow reader), else the driver's own."""
    return {"reply_timeout": rfid.reply_timeout_seconds} if rfid.reply_timeout_seconds else {}
