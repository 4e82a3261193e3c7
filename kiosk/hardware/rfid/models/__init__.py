"""Library tag data models: bytes in, values out, no I/O.

``decode_tag`` sniffs which model a tag's memory holds and returns the model-independent ``TagData``
(or ``UnreadableTag``); the model modules (iso28560_3, iso28560_2, rfid501) hold the full models,
their encoders for staff tag programming, and ``TagFormatError`` for bytes that are not theirs.
"""

from .detect import decode_tag
from .tagdata import (
    BLANK_TAG,
    USAGE_NAMES,
    TagData,
    TagEncodeError,
    TagFormatError,
    UnreadableTag,
    UsageType,
    usage_name,
)

__all__ = [
    "BLANK_TAG",
    "USAGE_NAMES",
    "TagData",
    "TagEncodeError",
    "TagFormatError",
    "UnreadableTag",
    "UsageType",
    "decode_tag",
    "usage_name",
]
