"""Why the ILS's certificate was refused, in words that say what to change.

OpenSSL says "unable to get local issuer certificate" or "IP address mismatch"; the person reading
the log is IT at a library, who needs to know which setting to look at. The caller names its own
settings (the CLI's ``--ca-file``, the kiosk's ``sip2.tls_ca_file``), so the advice points at them.
Pure: numbers and names in, a sentence out.
"""

from __future__ import annotations

# OpenSSL's X509_V_ERR_* codes (ssl.SSLCertVerificationError.verify_code) grouped by what fixes them.
_NOT_TRUSTED = {
    2,  # unable to get issuer certificate
    18,  # self-signed certificate
    19,  # self-signed certificate in certificate chain
    20,  # unable to get local issuer certificate
    21,  # unable to verify the first certificate
    24,  # invalid CA certificate
    27,  # certificate not trusted
}
_SELF_SIGNED = 18
_DATES = {
    9,  # certificate is not yet valid
    10,  # certificate has expired
}
_WRONG_NAME = {
    62,  # hostname mismatch
    64,  # IP address mismatch
}


def certificate_advice(code: int, *, host: str, ca_file: str | None, ca_setting: str, host_setting: str) -> str:
    """What to check when the certificate of ``host`` failed with OpenSSL verify code ``code``."""
    if code in _NOT_TRUSTED:
        issued = "the certificate itself (it is self-signed)" if code == _SELF_SIGNED else "the CA certificate"
        where = f"{ca_setting} ({ca_file})" if ca_file else f"{ca_setting}, which is not set (system CAs only)"
        return (
            f"it is not signed by a CA this machine trusts: check {where}; if this is the ILS's real "
            f"certificate, {ca_setting} must name {issued} (PEM) that issued it"
        )
    if code in _DATES:
        return (
            "check the certificate's validity dates with the ILS's administrator, and this machine's "
            "date and time (a clock that is not synchronised makes a good certificate look expired or "
            "not yet valid)"
        )
    if code in _WRONG_NAME:
        return (
            f"the certificate is not made out to {host!r}: set {host_setting} to a name the certificate "
            f"lists (the ILS's administrator knows which), not another name or address of the same server"
        )
    return f"check {ca_setting} and {host_setting}"
