"""AIM symbology identifiers (ISO/IEC 15424): the optional ``]Xm`` a scanner puts before the data.

Most scanners can be set to send it. It is the only way a keyboard-wedge or serial scanner tells
which symbology it read, and that is worth having: a read reported as EAN/UPC is a publisher's
barcode whatever its digits look like.
"""

from __future__ import annotations

EAN_UPC = "EAN/UPC"
CODABAR = "Codabar"
CODE_39 = "Code 39"
CODE_128 = "Code 128"

# Symbology code character -> name; the modifier character after it only refines options.
AIM_SYMBOLOGIES: dict[str, str] = {
    "A": CODE_39,
    "C": CODE_128,
    "E": EAN_UPC,
    "F": CODABAR,
    "G": "Code 93",
    "H": "Code 11",
    "I": "Interleaved 2 of 5",
    "L": "PDF417",
    "M": "MSI",
    "Q": "QR Code",
    "R": "Straight 2 of 5",
    "S": "Straight 2 of 5",
    "X": "other",
    "d": "Data Matrix",
    "e": "GS1 DataBar",
    "z": "Aztec",
}


def split_aim_identifier(text: str) -> tuple[str | None, str]:
    """Return (symbology name or None, data). Text without a known identifier comes back unchanged."""
    if len(text) >= 3 and text[0] == "]" and text[1] in AIM_SYMBOLOGIES and text[2].isalnum():
        return AIM_SYMBOLOGIES[text[1]], text[3:]
    return None, text
