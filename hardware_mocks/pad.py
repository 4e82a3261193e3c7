"""A virtual pad: put the sample library's items and patron cards on the simulated FEIG stack reader.

Tests and ``kiosk demo`` say ``pad.place_item(S.ITEM_AVAILABLE)`` instead of hand-building tag memory:
the pad looks the barcode up in the simulated ILS's sample data (so a 3-part audiobook gets set
information "part n of 3", a reference copy the type of usage "not for circulation", as a library's
tag programmer writes them, and checkout over SIP2 finds the same barcode), encodes the tag with the
kiosk's own ISO 28560 encoders, and sets theft protection on the way a library leaves an item on the
shelf (``SecurityScheme.wanted(IN_LIBRARY)``: AFI 0x07 and EAS set by default). It is a thin layer
over :class:`~hardware_mocks.feig_pty.FeigPtySimulator` and uses only its public API; the kiosk reads
the tags through the real FEIG driver on the pty, never through this class.

Each tag's UID is derived from its barcode and part number, so the same book put down twice is the
same tag, as it would be in the library.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Literal

from hardware_mocks.feig_pty import FeigPtySimulator, SimTag, make_uid
from kiosk.hardware.rfid.models import UsageType, iso28560_2, iso28560_3
from kiosk.hardware.rfid.security import SecurityReading, SecurityScheme, SecurityState

__all__ = ["DEMO_OWNER", "PadTag", "TagModel", "VirtualPad", "sample_parts", "sample_usage"]

TagModel = Literal["iso28560-3", "iso28560-2"]

#: Owner ISIL written on the demo library's tags (a Danish-model example library; any "CC-lib" works).
DEMO_OWNER = "DK-718500"

_DSFID = {"iso28560-3": 0x3E, "iso28560-2": 0x06}  # what a tag programmer writes for each model


def sample_parts() -> dict[str, int]:
    """Parts per item barcode in the simulated ILS's sample library (items not listed have one)."""
    from hardware_mocks.ils import load_sample_data  # loaded on first use: SQLite and the server stay out

    return {item["id"]: int(item.get("parts", 1)) for item in load_sample_data()["items"]}


def sample_usage() -> dict[str, UsageType]:
    """The type of usage of the sample library's items that do not circulate (the rest circulate)."""
    from hardware_mocks.ils import load_sample_data

    return {item["id"]: UsageType.NOT_FOR_CIRCULATION for item in load_sample_data()["items"]
            if not item.get("loanable", True)}


@dataclass(frozen=True, slots=True)
class PadTag:
    """One tag on the pad as the simulator holds it now: what it was labelled with and its security."""

    uid: bytes
    barcode: str
    parts_in_set: int
    part_number: int
    patron_card: bool
    afi: int
    eas: bool
    #: ``IN_LIBRARY`` (alarms), ``ON_LOAN`` (walks out), ``None`` when AFI and EAS disagree or for a card.
    security: SecurityState | None

    @property
    def security_on(self) -> bool:
        return self.security is SecurityState.IN_LIBRARY

    def __str__(self) -> str:
        part = f" part {self.part_number}/{self.parts_in_set}" if self.parts_in_set > 1 else ""
        security = f"AFI 0x{self.afi:02X}, EAS {'on' if self.eas else 'off'}"
        if self.patron_card:
            return f"patron card {self.barcode}: {security}"
        state = self.security.value.replace("_", " ") if self.security else "mixed"
        return f"{self.barcode}{part}: {security} ({state})"


@dataclass(frozen=True, slots=True)
class _Label:
    barcode: str
    parts_in_set: int
    part_number: int
    patron_card: bool
    usage: UsageType = UsageType.CIRCULATING_ITEM


class VirtualPad:
    """Places and removes labelled tags on a FEIG simulator (its own, or one passed in).

    ``scheme`` is the site's security scheme: items go down with its "in library" AFI/EAS, patron
    cards with none set (a card must never alarm the gate). ``model`` picks the data model written.
    ``parts`` and ``usage`` say, per barcode, how many parts an item has and the type of usage its tags
    carry (default: the sample library's; a barcode not listed has one part and circulates).
    """

    def __init__(
        self,
        simulator: FeigPtySimulator | None = None,
        *,
        scheme: SecurityScheme | None = None,
        owner: str = DEMO_OWNER,
        model: TagModel = "iso28560-3",
        parts: dict[str, int] | None = None,
        usage: dict[str, UsageType] | None = None,
    ) -> None:
        if model not in _DSFID:
            raise ValueError(f"tag model must be one of {sorted(_DSFID)}, got {model!r}")
        self._owns_simulator = simulator is None
        self.simulator = simulator or FeigPtySimulator()
        self.scheme = scheme or SecurityScheme()
        self.owner = owner
        self.model = model
        self._parts = parts if parts is not None else sample_parts()
        self._usage = usage if usage is not None else sample_usage()
        self._labels: dict[bytes, _Label] = {}

    # -- lifecycle: only a simulator the pad made is started and stopped here ----------------------------

    @property
    def path(self) -> str:
        """The serial port the kiosk's FeigReader opens."""
        return self.simulator.path

    def start(self) -> VirtualPad:
        if self._owns_simulator and not self.simulator.plugged_in:
            self.simulator.start()
        return self

    def stop(self) -> None:
        if self._owns_simulator:
            self.simulator.stop()

    def __enter__(self) -> VirtualPad:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- placing and removing ------------------------------------------------------------------------

    def parts_of(self, barcode: str) -> int:
        """How many parts the sample library says the item has (1 for a barcode it does not know)."""
        return self._parts.get(barcode, 1)

    def place_item(
        self,
        barcode: str,
        *,
        parts: int | None = None,
        part: int = 1,
        owner: str | None = None,
        model: TagModel | None = None,
    ) -> PadTag:
        """One item tag (one part of a set) with security on; ``parts`` defaults to the sample data's."""
        total = self.parts_of(barcode) if parts is None else parts
        if not 1 <= part <= total:
            raise ValueError(f"part {part} of an item with {total} parts")
        usage = self._usage.get(barcode, UsageType.CIRCULATING_ITEM)
        return self._place(_Label(barcode, total, part, False, usage), owner, model)

    def place_set(
        self, barcode: str, *, present: tuple[int, ...] | None = None, model: TagModel | None = None
    ) -> list[PadTag]:
        """Every part of a multi-part item, or only the part numbers in ``present`` (a part left at home)."""
        total = self.parts_of(barcode)
        numbers = tuple(range(1, total + 1)) if present is None else present
        return [self.place_item(barcode, parts=total, part=n, model=model) for n in numbers]

    def place_patron_card(self, patron_id: str, *, owner: str | None = None, model: TagModel | None = None) -> PadTag:
        """A patron card: the patron id as the tag's identifier, usage type "patron card", no security."""
        return self._place(_Label(patron_id, 1, 1, True), owner, model)

    def remove(self, barcode: str, *, part: int | None = None) -> int:
        """Lift the item (every part of it, or just ``part``) or patron card off the pad; returns tags lifted."""
        uids = [
            uid
            for uid, label in self._labels.items()
            if label.barcode == barcode and (part is None or label.part_number == part)
        ]
        self.simulator.remove(*uids)
        for uid in uids:
            del self._labels[uid]
        return len(uids)

    def clear(self) -> None:
        """Sweep the pad empty."""
        self.simulator.clear()
        self._labels.clear()

    def tags_on_pad(self) -> list[PadTag]:
        """The pad's labelled tags still in the field, with the AFI/EAS the tags hold right now.

        Read from the simulator's tag state, not from what the pad wrote: after a checkout this shows
        what the kiosk's driver actually did to the tags. Sorted by barcode, then part.
        """
        present = set(self.simulator.uids)
        tags = [self._snapshot(uid, label) for uid, label in self._labels.items() if uid in present]
        return sorted(tags, key=lambda t: (t.barcode, t.part_number))

    # -- building tags ---------------------------------------------------------------------------------

    def _place(self, label: _Label, owner: str | None, model: TagModel | None) -> PadTag:
        model = model or self.model
        if model not in _DSFID:
            raise ValueError(f"tag model must be one of {sorted(_DSFID)}, got {model!r}")
        memory = _encode(label, owner or self.owner, model)
        if label.patron_card:
            afi, eas = 0x00, False
        else:
            wanted = self.scheme.wanted(SecurityState.IN_LIBRARY)
            afi = wanted.afi if wanted.afi is not None else 0x00
            eas = bool(wanted.eas)
        uid = _uid_for(label)
        self.simulator.place(SimTag.create(uid, memory, afi=afi, eas=eas, dsfid=_DSFID[model]))
        self._labels[uid] = label
        return self._snapshot(uid, label)

    def _snapshot(self, uid: bytes, label: _Label) -> PadTag:
        tag = self.simulator.tag(uid)
        if tag is None:
            raise LookupError(f"tag {uid.hex().upper()} is no longer on the pad")
        reading = SecurityReading(
            tag.afi if self.scheme.use_afi else None, tag.eas if self.scheme.use_eas else None
        )
        return PadTag(
            uid, label.barcode, label.parts_in_set, label.part_number, label.patron_card,
            tag.afi, tag.eas, None if label.patron_card else self.scheme.state_of(reading),
        )


def _encode(label: _Label, owner: str, model: TagModel) -> bytes:
    """Tag memory for one label, written by the kiosk's own encoders (what staff tag programming writes)."""
    usage = UsageType.PATRON_CARD if label.patron_card else label.usage
    if model == "iso28560-3":
        country, library = iso28560_3.owner_fields(owner)
        tag = iso28560_3.Iso28560_3Tag(
            label.barcode, usage_type=usage, parts_in_set=label.parts_in_set, part_number=label.part_number,
            country=country, library=library,
        )
        return iso28560_3.encode(tag)
    is_set = label.parts_in_set > 1
    return iso28560_2.encode(
        iso28560_2.build(
            label.barcode,
            owner_library=owner,
            parts_in_set=label.parts_in_set if is_set else None,
            part_number=label.part_number if is_set else None,
            type_of_usage=int(usage) << 4,  # the full byte: main category in the high hex digit
        )
    )


def _uid_for(label: _Label) -> bytes:
    """A stable NXP UID (EAS-capable) per barcode and part: the same book is the same tag every time."""
    kind = "card" if label.patron_card else "item"
    return make_uid(zlib.crc32(f"{kind}:{label.barcode}:{label.part_number}".encode()))
