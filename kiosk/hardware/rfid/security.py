"""Switch an item's theft protection between "on loan" and "in library", and prove it took.

Gates read AFI, the NXP EAS bit, or both, depending on the site; the values differ too (ISO 28560-1
0x07/0xC2, 3M-era 0xD7/0xDA), so the scheme is configuration. dp2 writes both on every transaction and
reports patrons pulling the book away mid-write (DigitalPlatform/dp2 #281): so every write is read
back, and a tag that left half-way raises :class:`SecurityWriteIncomplete` saying what is known of its
state, for a "put the item back on the pad" prompt instead of a silent alarm at the gate.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import Enum

from kiosk.hardware.rfid.readers.base import ReaderError, TagNotInField, TagReader


class SecurityState(Enum):
    ON_LOAN = "on_loan"  # no alarm: the patron may walk out with it
    IN_LIBRARY = "in_library"  # gate alarms


@dataclass(frozen=True, slots=True)
class SecurityScheme:
    """Which security carriers a site's gates read, and the AFI values for each state."""

    use_afi: bool = True
    use_eas: bool = True
    afi_on_loan: int = 0xC2
    afi_in_library: int = 0x07

    @classmethod
    def three_m(cls, *, use_eas: bool = False) -> SecurityScheme:
        """3M (RFID501-era) gates: AFI 0xDA on loan, 0xD7 in library."""
        return cls(use_afi=True, use_eas=use_eas, afi_on_loan=0xDA, afi_in_library=0xD7)

    def __post_init__(self) -> None:
        if not (self.use_afi or self.use_eas):
            raise ValueError("a security scheme must use AFI, EAS, or both")
        for value in (self.afi_on_loan, self.afi_in_library):
            if not 0 <= value <= 0xFF:
                raise ValueError(f"AFI 0x{value:X} is not a byte")

    def wanted(self, state: SecurityState) -> SecurityReading:
        on_loan = state is SecurityState.ON_LOAN
        return SecurityReading(
            afi=(self.afi_on_loan if on_loan else self.afi_in_library) if self.use_afi else None,
            eas=(not on_loan) if self.use_eas else None,
        )

    def state_of(self, reading: SecurityReading) -> SecurityState | None:
        """The state a reading means under this scheme; ``None`` when mixed or unknown."""
        for state in SecurityState:
            if reading == self.wanted(state):
                return state
        return None


@dataclass(frozen=True, slots=True)
class SecurityReading:
    """AFI and EAS as far as known; ``None`` = not used by the scheme, or unknown."""

    afi: int | None = None
    eas: bool | None = None

    def __str__(self) -> str:
        afi = "?" if self.afi is None else f"0x{self.afi:02X}"
        eas = "?" if self.eas is None else ("on" if self.eas else "off")
        return f"AFI {afi}, EAS {eas}"


class SecurityWriteIncomplete(ReaderError):
    """The tag did not end up in the wanted state: usually it left the field half-way.

    ``observed`` is what the reader confirmed (a write the tag acknowledged, or a read-back); ``None``
    fields are unknown. ``left_field`` tells "put it back" apart from a tag that stays wrong.
    """

    def __init__(
        self, uid: bytes, wanted: SecurityReading, observed: SecurityReading, *, left_field: bool, device: str = ""
    ) -> None:
        why = "the tag left the field" if left_field else "read-back differs"
        super().__init__(f"tag {uid.hex().upper()}: wanted {wanted}, observed {observed} ({why})", device=device)
        self.uid = uid
        self.wanted = wanted
        self.observed = observed
        self.left_field = left_field


def read_security(reader: TagReader, uid: bytes, scheme: SecurityScheme) -> SecurityReading:
    """AFI through Get System Information, EAS through EAS ALARM: only what the scheme uses."""
    afi = reader.read_afi(uid) if scheme.use_afi else None
    eas = reader.eas_enabled(uid) if scheme.use_eas else None
    return SecurityReading(afi, eas)


def set_security(
    reader: TagReader,
    uid: bytes,
    state: SecurityState,
    scheme: SecurityScheme,
    *,
    attempts: int = 3,
) -> SecurityReading:
    """Write AFI and/or EAS for ``state``, read back, and retry (bounded) until they match.

    Returns the verified reading. Raises :class:`SecurityWriteIncomplete` when attempts run out;
    a tag refusing the write (locked AFI, no EAS on a non-NXP chip) or a lost reader propagates
    as the reader's own typed error, since putting the item back would not help.
    """
    wanted = scheme.wanted(state)
    observed = SecurityReading()
    left_field = False
    for _ in range(max(1, attempts)):
        try:
            if wanted.afi is not None and observed.afi != wanted.afi:
                reader.write_afi(uid, wanted.afi)
                observed = replace(observed, afi=wanted.afi)  # acknowledged; verified below
            if wanted.eas is not None and observed.eas != wanted.eas:
                reader.set_eas(uid, wanted.eas)
                observed = replace(observed, eas=wanted.eas)
            observed = read_security(reader, uid, scheme)
        except TagNotInField:
            left_field = True
            continue
        left_field = False
        if observed == wanted:
            return observed
    raise SecurityWriteIncomplete(uid, wanted, observed, left_field=left_field, device=reader.name)
