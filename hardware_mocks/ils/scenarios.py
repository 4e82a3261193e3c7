"""Named patrons and items of the sample library, so tests and the demo say ``PATRON_BLOCKED``
instead of a barcode. README.md has the same table for people; a test checks both against the data.

Barcodes are the 14-digit Codabar library format: type digit (2 patron, 3 item), institution
1234, serial, Luhn check digit, so the kiosk's barcode classifier accepts them.
"""

from __future__ import annotations

from typing import NamedTuple


class SamplePatron(NamedTuple):
    id: str
    pin: str
    name: str


INSTITUTION = "demo"
LIBRARY_NAME = "Demo Library"
MAIN = "MAIN"  # default branch: where checkins happen unless AP or the login's CP names another
EAST = "EAST"
LOGIN_USER = "demo"  # default SIP2 account (93 CN/CO), as in the kiosk's built-in settings
LOGIN_PASSWORD = ""
CURRENCY = "EUR"

# --- patrons ---------------------------------------------------------------------------------

#: 5 loans: renew / renewal limit / holds block renewal / checkin alerts
PATRON_VALID = SamplePatron("21234000000018", "1234", "Maria Hernández")
#: home EAST, nothing on loan, no fines: the demo patron
PATRON_CLEAN = SamplePatron("21234000000026", "2222", "Jonas Müller")
#: 2 holds ready (MAIN, EAST), 1 waiting
PATRON_HOLDS_READY = SamplePatron("21234000000034", "3333", "Zofia Wójcik")
#: 2 overdue items, fine 2.50: may still borrow
PATRON_OVERDUE = SamplePatron("21234000000042", "4444", "Liam O'Connor")
#: staff block: every privilege denied
PATRON_BLOCKED = SamplePatron("21234000000059", "5555", "Ingrid Sæther")
#: card expired 30 days ago
PATRON_EXPIRED = SamplePatron("21234000000067", "6666", "Peter Novak")
#: fines 25.00 over the 10.00 limit
PATRON_FINES = SamplePatron("21234000000075", "7777", "Aisha Rahman")
#: child, 5 loans = class limit
PATRON_TOO_MANY_ITEMS = SamplePatron("21234000000083", "8888", "Tom Becker")
#: valid; for wrong-PIN tests (send any PIN but 9999)
PATRON_WRONG_PIN = SamplePatron("21234000000091", "9999", "Erik Lindqvist")
#: card reported lost
PATRON_CARD_LOST = SamplePatron("21234000000109", "1010", "Chloé Dubois")
#: hold privileges denied only: may borrow
PATRON_NO_HOLDS = SamplePatron("21234000000117", "1111", "Kenji Watanabe")
#: renewal privileges denied only: may borrow
PATRON_NO_RENEWALS = SamplePatron("21234000000125", "1212", "Fatima Haddad")
#: home EAST; holds on ITEM_ON_HOLD_FOR_OTHER, ITEM_HOLD_OTHER_BRANCH, 2 more
PATRON_HOLDS = SamplePatron("21234000000133", "1313", "Olga Petrova")
#: 3 overdue items: borrowing denied
PATRON_TOO_MANY_OVERDUE = SamplePatron("21234000000141", "1414", "Noah Schmidt")
#: well-formed, not in the library
UNKNOWN_PATRON = "21234999999998"

# --- items -----------------------------------------------------------------------------------

#: The Hobbit: book, on the shelf at MAIN
ITEM_AVAILABLE = "31234000000016"
#: Łódź: Portrait of a City: Ł and ź are not in cp850: sent as '?ódz' there
ITEM_TITLE_LODZ = "31234000000115"
#: Ærø: Walks on a Danish Island: all in cp850
ITEM_TITLE_AERO = "31234000000123"
#: Familie Müller zieht um: all in cp850
ITEM_TITLE_MULLER = "31234000000131"
#: Ñandú: Birds of the Pampas: all in cp850
ITEM_TITLE_NANDU = "31234000000149"
#: The Remains of the Day: on the shelf, hold for PATRON_HOLDS
ITEM_ON_HOLD_FOR_OTHER = "31234000000206"
#: The Great Gatsby: on loan to PATRON_VALID
ITEM_RENEWABLE = "31234000000305"
#: Jane Eyre: on loan to PATRON_VALID, renewed twice (limit 2)
ITEM_RENEWAL_LIMIT = "31234000000313"
#: The Road: on loan to PATRON_VALID; checkin at MAIN: CV 01, hold for PATRON_HOLDS_READY
ITEM_HOLD_HERE = "31234000000321"
#: Wolf Hall: on loan to PATRON_VALID; checkin at MAIN: CV 02, CT EAST, PATRON_HOLDS
ITEM_HOLD_OTHER_BRANCH = "31234000000339"
#: The Catcher in the Rye: on loan to PATRON_OVERDUE, 10 days overdue
ITEM_OVERDUE = "31234000000347"
#: Casablanca: DVD on loan to PATRON_OVERDUE, 3 days overdue
ITEM_OVERDUE_DVD = "31234000000354"
#: Anna Karenina: on loan to PATRON_NO_RENEWALS
ITEM_LOAN_NO_RENEWALS = "31234000000362"
#: Crime and Punishment: EAST's, on loan to PATRON_VALID; checkin at MAIN: CV 04, CT EAST
ITEM_TRANSIT = "31234000000404"
#: Charlie and the Chocolate Factory: one of PATRON_TOO_MANY_ITEMS's 5 loans
ITEM_TOO_MANY_ITEMS_LOAN = "31234000000412"
#: The Shining: one of PATRON_TOO_MANY_OVERDUE's 3 overdue loans
ITEM_TOO_MANY_OVERDUE_LOAN = "31234000000461"
#: Circe: on the hold shelf at MAIN for PATRON_HOLDS_READY
ITEM_HOLD_SHELF = "31234000000503"
#: Station Eleven: on the hold shelf at EAST for PATRON_HOLDS_READY
ITEM_HOLD_SHELF_EAST = "31234000000511"
#: The Overstory: on the hold shelf at MAIN for PATRON_HOLDS
ITEM_HOLD_SHELF_OTHER = "31234000000529"
#: Educated: in transit to EAST for PATRON_HOLDS: checkin at EAST gives CV 01
ITEM_IN_TRANSIT_FOR_HOLD = "31234000000537"
#: Becoming: in transit home to EAST: checkin at EAST reshelves it
ITEM_IN_TRANSIT_HOME = "31234000000545"
#: Oxford English Dictionary, Vol. 1: reference
ITEM_NOT_FOR_LOAN = "31234000000552"
#: Atlas of Local History: reference
ITEM_NOT_FOR_LOAN_2 = "31234000000560"
#: The Goldfinch
ITEM_LOST = "31234000000578"
#: Life of Pi
ITEM_MISSING = "31234000000586"
#: The Kite Runner
ITEM_CLAIMED_RETURNED = "31234000000594"
#: Tomorrow, and Tomorrow, and Tomorrow
ITEM_ON_ORDER = "31234000000602"
#: Lessons in Chemistry
ITEM_IN_PROCESS = "31234000000610"
#: The Count of Monte Cristo (audiobook, 3 CDs): one barcode, 3 parts; 14-day loan
ITEM_AUDIOBOOK_SET = "31234000000628"
#: Planet Earth II (2 DVDs): one barcode, 2 parts; 7-day loan
ITEM_DVD_SET = "31234000000636"
#: The Godfather: 7-day loan
ITEM_DVD = "31234000000644"
#: Dune: Part Two (Blu-ray): rental fee 2.00: checkout needs fee acknowledged (BO=Y)
ITEM_RENTAL = "31234000000685"
#: National Geographic (March): 7-day loan
ITEM_MAGAZINE = "31234000000693"
#: The Little Prince: on the shelf at EAST
ITEM_AVAILABLE_EAST = "31234000000719"
#: well-formed, not in the library
UNKNOWN_ITEM = "31234999999996"

#: Books on the shelf at MAIN with no holds: free for any checkout test.
AVAILABLE_BOOKS = (
    "31234000000016",  # The Hobbit
    "31234000000024",  # Pride and Prejudice
    "31234000000032",  # Moby-Dick
    "31234000000040",  # Dune
    "31234000000057",  # The Left Hand of Darkness
    "31234000000065",  # Beloved
    "31234000000073",  # One Hundred Years of Solitude
    "31234000000081",  # The Name of the Rose
    "31234000000099",  # Things Fall Apart
    "31234000000107",  # Middlemarch
    "31234000000156",  # Frankenstein
    "31234000000164",  # The Old Man and the Sea
    "31234000000172",  # Never Let Me Go
    "31234000000180",  # Brave New World
    "31234000000198",  # The Master and Margarita
    "31234000000214",  # A Brief History of Time
    "31234000000222",  # Sapiens
    "31234000000230",  # The Selfish Gene
    "31234000000248",  # Silent Spring
    "31234000000255",  # The Art of Cooking Simply
    "31234000000263",  # Gardening for Beginners
    "31234000000271",  # The Very Hungry Caterpillar
    "31234000000289",  # Where the Wild Things Are
    "31234000000297",  # Matilda
    "31234000000370",  # War and Peace
    "31234000000388",  # The Trial
    "31234000000396",  # Invisible Cities
    "31234000000495",  # Ulysses
)
