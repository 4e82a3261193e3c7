"""Typed errors of the SIP2 library. Every failure a caller must tell apart has its own class."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sip2.messages import Message


class SIP2Error(Exception):
    """Base class of everything this library raises on purpose."""


class SIP2DecodeError(SIP2Error, ValueError):
    """Bytes that are not a valid SIP2 frame. Carries the raw bytes so nothing is lost.

    IT needs the exact bytes to diagnose a misconfigured server (telnet mode, wrong
    terminator, wrong code page), so they travel with the error instead of being logged away.
    """

    def __init__(self, reason: str, raw: bytes) -> None:
        super().__init__(f"{reason} (raw {raw[:120]!r}{'...' if len(raw) > 120 else ''})")
        self.reason = reason
        self.raw = raw


class ChecksumError(SIP2DecodeError):
    """The AZ checksum does not match the bytes: the frame was corrupted on the way."""


class UnknownCommandError(SIP2DecodeError):
    """The two-digit command code is not a SIP2 2.00 message."""


class SIP2EncodeError(SIP2Error, ValueError):
    """A message cannot be put on the wire as given (a ``|`` in a value, wrong fixed length...)."""


class ProtocolStateError(SIP2Error):
    """The caller broke the conversation's rules (a second request while one is outstanding...)."""


class SIP2ConnectionError(SIP2Error):
    """The TCP/TLS connection could not be made or died."""


class SIP2Timeout(SIP2ConnectionError):
    """No complete response within the per-request timeout."""


class LoginFailed(SIP2Error):
    """The ACS answered 94 with ok=0: wrong SIP2 user, password or location."""


class TLSVerificationError(SIP2ConnectionError):
    """The ILS's certificate did not verify against the configured CA.

    Not a network fault that goes away: the next attempt fails the same way until someone changes
    the CA file, the host name, the certificate or the clock, so ``advice`` says which to look at.
    """

    def __init__(
        self, message: str, *, host: str = "", port: int = 0, reason: str = "", code: int = 0, advice: str = ""
    ) -> None:
        super().__init__(message)
        self.host = host
        self.port = port
        self.reason = reason  # OpenSSL's words
        self.code = code  # OpenSSL's X509_V_ERR_* number
        self.advice = advice


class OutcomeUnknown(SIP2Error):
    """A request that must not be repeated was sent, and its response was lost.

    The ILS may or may not have applied it. Resending blindly is wrong: most ILSs turn a
    repeated checkout into a renewal (reference §4 #8). The caller must find out what happened,
    e.g. with 17 Item Information, and decide.
    """

    def __init__(self, request: Message, cause: BaseException | None = None) -> None:
        super().__init__(
            f"outcome of {type(request).__name__} ({request.code}) unknown: "
            f"the response was lost ({cause or 'connection closed'})"
        )
        self.request = request
        self.cause = cause
