"""From validated settings to a SIP2 client: the one place the kiosk's config meets ``sip2``.

Keeping the mapping here means the SIP2 library stays free of kiosk concepts, and a setting
added to ``[sip2]`` has exactly one place where it takes effect.
"""

from __future__ import annotations

import logging

from kiosk.config import Settings
from sip2.client import ClientConfig, SIP2Client, SIP2Pool, TLSConfig
from sip2.codec import CR, CRLF
from sip2.dialects import Dialect, get_dialect

log = logging.getLogger("kiosk.ils")


def client_config(settings: Settings) -> ClientConfig:
    s = settings.sip2
    tls = None
    if s.tls:
        tls = TLSConfig(ca_file=s.tls_ca_file, cert_file=s.tls_cert_file, key_file=s.tls_key_file,
                        verify=s.tls_verify, ca_file_setting="sip2.tls_ca_file", host_setting="sip2.host")
        if not s.tls_verify:
            log.warning(
                "SIP2 to %s:%d over TLS without checking the ILS's certificate (sip2.tls_verify = false): "
                "anyone on the network path can pose as the ILS and read the SIP2 password and patron PINs",
                s.host, s.port,
            )
    else:
        # Config validation already refused this unless allow_plain_tcp is set explicitly.
        log.warning(
            "SIP2 to %s:%d over plain TCP (sip2.allow_plain_tcp = true): the SIP2 password and "
            "patron PINs cross the network unencrypted", s.host, s.port,
        )
    return ClientConfig(
        host=s.host,
        port=s.port,
        tls=tls,
        username=s.username or None,
        password=s.password,
        location=s.location or None,
        institution_id=settings.site.institution_id,
        encoding=s.encoding,
        error_detection=s.error_detection,
        terminator=CRLF if s.terminator == "CRLF" else CR,
        timeout=s.timeout_seconds,
        heartbeat_interval=s.heartbeat_seconds,
        blank_nb_due_date=s.blank_nb_due_date,
    )


def dialect(settings: Settings) -> Dialect:
    return get_dialect(settings.sip2.dialect)


def connect(settings: Settings) -> SIP2Client:
    client = SIP2Client(client_config(settings))
    client.connect()
    return client


def pool(settings: Settings) -> SIP2Pool:
    return SIP2Pool(client_config(settings), size=settings.sip2.pool_size)
