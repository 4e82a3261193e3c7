"""[rfid], [scanner] and [station]: each bad value is one line naming the file and the key, and valid
settings become the drivers, security scheme, watcher timings and barcode rules they describe."""

from __future__ import annotations

import pytest

from kiosk.config import ConfigError, Layer, Settings, defaults_layer, parse_layers
from kiosk.hardware.barcode.classify import BarcodeKind, classify
from kiosk.hardware.barcode.serial_scanner import SerialScanner
from kiosk.hardware.barcode.settings import ScannerSettings, rules_from, scan_format_from, scanner_from
from kiosk.hardware.rfid.readers.feig import FeigReader
from kiosk.hardware.rfid.readers.m3_810 import M3810Reader
from kiosk.hardware.rfid.readers.pcsc import AcsDirectTransmit, PcscReader, TransparentExchange
from kiosk.hardware.rfid.security import SecurityScheme
from kiosk.hardware.rfid.settings import RfidSettings, reader_from, scheme_from, watcher_settings_from
from kiosk.hardware.rfid.watcher import WatcherSettings
from kiosk.station_settings import StationSettings, station_languages

FILE = "/etc/kiosk/kiosk.toml"


def load(toml: str) -> Settings:
    return parse_layers([defaults_layer(), Layer(FILE, toml.encode())]).settings


def problems(toml: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load(toml)
    return caught.value.problems


@pytest.mark.parametrize(
    ("toml", "line"),
    [
        ('[rfid]\ndriver = "feig"\n', f'{FILE}: rfid.driver: "feig" needs rfid.port'),
        ('[rfid]\ndriver = "3m"\n', f'{FILE}: rfid.driver: expected one of "none", "pcsc", "feig", "m3_810", got "3m"'),
        ("[rfid]\nbaudrate = 300\n", f"{FILE}: rfid.baudrate: expected 0 (the driver's own default) or a baud rate"),
        ("[rfid]\nafi_on_loan = 256\n", f"{FILE}: rfid.afi_on_loan: expected a byte 0-255"),
        ("[rfid]\nafi_on_loan = 0x07\n", f"{FILE}: rfid.afi_on_loan: expected a value other than rfid.afi_in_library"),
        ("[rfid]\nuse_afi = false\nuse_eas = false\n", f"{FILE}: rfid.use_eas: expected true when rfid.use_afi"),
        ('[rfid]\nowner_library = "Denmark"\n', f"{FILE}: rfid.owner_library: ISIL 'Denmark' is not"),
        ('[rfid]\nmodel = "rfid501"\n', f'{FILE}: rfid.model: expected one of "iso28560-3", "iso28560-2"'),
        ("[rfid]\nsettle_seconds = 0\n", f"{FILE}: rfid.settle_seconds: expected a number > 0, got 0"),
        ('[scanner]\ndriver = "serial"\n', f'{FILE}: scanner.driver: "serial" needs scanner.device'),
        ('[scanner]\nterminator = "ETX"\n', f'{FILE}: scanner.terminator: expected one of "CR", "CRLF", "LF"'),
        ('[scanner]\nrules = "2\\\\d{13}"\n', f"{FILE}: scanner.rules: expected an array of tables"),
        ('[scanner]\nrules = [{ kind = "item", pattern = "(" }]\n',
         f"{FILE}: scanner.rules: scanner.rules[0].pattern '(' is not a valid regular expression"),
        ('[scanner]\nrules = [{ kind = "book", pattern = "3.*" }]\n',
         f"{FILE}: scanner.rules: scanner.rules[0].kind must be 'patron' or 'item'"),
        ('[station]\nkind = "returns"\n', f'{FILE}: station.kind: expected one of "self-check", "returns-bin"'),
        ('[station]\nlanguages = ["de", "de"]\n', f"{FILE}: station.languages: expected an array of language codes"),
    ],
)
def test_a_bad_value_is_one_line_naming_the_file_and_the_key(toml: str, line: str) -> None:
    (problem,) = problems(toml)
    assert problem.startswith(line), problem


def test_the_defaults_configure_no_reader_and_no_scanner_and_a_self_check_kiosk() -> None:
    settings = load("")
    assert reader_from(settings.rfid) is None and scanner_from(settings.scanner) is None
    assert settings.station == StationSettings()
    assert scheme_from(settings.rfid) == SecurityScheme()  # ISO 28560-1 values, AFI and EAS
    assert watcher_settings_from(settings.rfid) == WatcherSettings()  # the watcher's own timings


def test_each_reader_driver_is_built_with_its_own_line_settings() -> None:
    feig = reader_from(RfidSettings(driver="feig", port="/dev/ttyUSB0", feig_parity="N", feig_com_adr=3))
    assert isinstance(feig, FeigReader)
    assert (feig.port, feig.baudrate, feig.parity, feig.com_adr) == ("/dev/ttyUSB0", 38400, "N", 3)
    three_m = reader_from(RfidSettings(driver="m3_810", port="/dev/ttyUSB1"))
    assert isinstance(three_m, M3810Reader) and three_m.baudrate == 19200
    fast = reader_from(RfidSettings(driver="m3_810", port="/dev/ttyUSB1", baudrate=57600))
    assert isinstance(fast, M3810Reader) and fast.baudrate == 57600
    # the reply timeout: the driver's own unless the site sets one
    assert (feig.reply_timeout, three_m.reply_timeout) == (0.5, 1.0)
    patient = reader_from(RfidSettings(driver="feig", port="/dev/ttyUSB0", reply_timeout_seconds=2.0))
    assert isinstance(patient, FeigReader) and patient.reply_timeout == 2.0
    pcsc = reader_from(RfidSettings(driver="pcsc", pcsc_reader="ACR1552"))
    assert isinstance(pcsc, PcscReader) and pcsc.reader_substring == "ACR1552"
    assert isinstance(pcsc.transport, TransparentExchange)
    acs = reader_from(RfidSettings(driver="pcsc", pcsc_transport="acs_direct"))
    assert isinstance(acs, PcscReader) and isinstance(acs.transport, AcsDirectTransmit)


def test_a_3m_site_scheme_and_its_watcher_timings() -> None:
    settings = load("[rfid]\nuse_eas = false\nafi_on_loan = 0xDA\nafi_in_library = 0xD7\n"
                    "poll_seconds = 0.1\nsettle_seconds = 0.3\nread_attempts = 5\n")
    assert scheme_from(settings.rfid) == SecurityScheme.three_m()
    timings = watcher_settings_from(settings.rfid)
    assert (timings.poll_interval, timings.settle_time, timings.read_attempts) == (0.1, 0.3, 5)


def test_the_scanner_and_a_sites_own_barcode_rules() -> None:
    settings = load('[scanner]\ndriver = "serial"\ndevice = "/dev/ttyACM0"\nbaudrate = 115200\n'
                    'terminator = "CRLF"\nprefix = "#"\n'
                    'rules = [{ kind = "patron", pattern = "P\\\\d{6}", strip_prefix = "P" }, '
                    '{ kind = "item", pattern = "\\\\d{8}", check = "luhn" }]\n')
    scanner = scanner_from(settings.scanner)
    assert isinstance(scanner, SerialScanner)
    assert (scanner.port, scanner.baudrate, scanner.terminator) == ("/dev/ttyACM0", 115200, b"\r\n")
    assert scan_format_from(settings.scanner).strip_prefix == "#"
    rules = rules_from(settings.scanner)
    card = classify("P123456", rules)
    assert (card.kind, card.identifier) == (BarcodeKind.PATRON, "123456")
    assert classify("79927398", rules).kind is BarcodeKind.ITEM  # Luhn-valid
    assert classify("79927397", rules).kind is BarcodeKind.NOT_LIBRARY  # check digit wrong
    assert classify("21234000000018", rules).kind is BarcodeKind.NOT_LIBRARY  # the built-in rules are replaced


def test_the_built_in_rules_take_the_sample_librarys_codabar_barcodes() -> None:
    rules = rules_from(ScannerSettings())
    assert classify("21234000000018", rules).kind is BarcodeKind.PATRON
    assert classify("31234000000016", rules).kind is BarcodeKind.ITEM


def test_the_languages_offered_start_with_the_sites_and_name_each_once() -> None:
    assert station_languages("de", StationSettings(languages=("en", "de", "fr"))) == ("de", "en", "fr")
    assert station_languages("en", StationSettings()) == ("en",)
