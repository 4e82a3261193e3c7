"""A standalone SIP2 2.00 library: typed messages, a sans-IO codec and session, a blocking
TCP/TLS client with reconnect and a pool, a small server toolkit, dialect profiles and a CLI.

Nothing here imports the kiosk: other projects can use it on its own.
"""

from sip2.codec import Frame, checksum, decode, decode_frame, encode
from sip2.errors import (
    ChecksumError,
    LoginFailed,
    OutcomeUnknown,
    ProtocolStateError,
    SIP2ConnectionError,
    SIP2DecodeError,
    SIP2EncodeError,
    SIP2Error,
    SIP2Timeout,
    TLSVerificationError,
    UnknownCommandError,
)
from sip2.fields import AlertType, CirculationStatus, PatronStatus, Summary, SupportedMessages
from sip2.messages import *  # noqa: F403  (the message classes are the public API)
from sip2.messages import MESSAGE_TYPES, RESPONSE_FOR, SAFE_TO_REPEAT, Message, Request, Response

__all__ = [
    "MESSAGE_TYPES",
    "RESPONSE_FOR",
    "SAFE_TO_REPEAT",
    "AlertType",
    "ChecksumError",
    "CirculationStatus",
    "Frame",
    "LoginFailed",
    "Message",
    "OutcomeUnknown",
    "PatronStatus",
    "ProtocolStateError",
    "Request",
    "Response",
    "SIP2ConnectionError",
    "SIP2DecodeError",
    "SIP2EncodeError",
    "SIP2Error",
    "SIP2Timeout",
    "Summary",
    "SupportedMessages",
    "TLSVerificationError",
    "UnknownCommandError",
    "checksum",
    "decode",
    "decode_frame",
    "encode",
]
