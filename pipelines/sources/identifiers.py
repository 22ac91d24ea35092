"""Which column names look like direct identifiers, and how names are compared.

An extract must be anonymised (the contract's "What a loader owes its user"): a column whose name looks
like a name, an NHS number, a date of birth, a postcode, an address, an email or a phone number stops
the load, whatever file or mapping it comes from. `normalise_header` is also how `rosc map init`
matches an export's column names to the contract's (ignoring case, spaces and punctuation).
"""

from __future__ import annotations

import re

from pipelines.contract import DIRECT_IDENTIFIER_NAMES

#: Normalised names that look like direct identifiers, besides contract.DIRECT_IDENTIFIER_NAMES.
_MORE_IDENTIFIER_NAMES = frozenset(
    {
        "tel",
        "telno",
        "telephoneno",
        "telephonenumber",
        "mobileno",
        "mobilenumber",
        "mobilephone",
        "cellphone",
        "homephone",
        "workphone",
        "postalcode",
        "zip",
        "fname",
        "lname",
        "givenname",
        "givennames",
        "familyname",
        "middlename",
        "middlenames",
        "maidenname",
        "birthday",
        "nino",
        "nhsid",
        "chino",
        "chi",
        "emailaddr",
        "mail",
        "addr",
        "streetaddress",
        "houseno",
        "housenumber",
    }
)
#: A `<who>name` column (patient_name, client_name...) names a person.
_PERSON_WORDS = (
    "patient",
    "client",
    "person",
    "serviceuser",
    "user",
    "first",
    "last",
    "full",
    "given",
    "family",
    "middle",
    "maiden",
    "sur",
    "fore",
    "preferred",
    "nick",
    "mother",
    "father",
    "parent",
    "carer",
    "nextofkin",
    "nok",
    "gp",
    "contact",
    "keyworker",
    "worker",
    "staff",
    "child",
    "partner",
)
_IDENTIFIER_PARTS = (
    "nhsnumber",
    "nhsno",
    "dateofbirth",
    "birthdate",
    "postcode",
    "email",
    "phone",
    "telephone",
    "address",
    "nationalinsurance",
    "ninumber",
    "chinumber",
    "mobilenumber",
    "surname",
    "forename",
    "firstname",
    "lastname",
    "fullname",
    "givenname",
    "familyname",
    "middlename",
    "maidenname",
    "hospitalnumber",
    "hospitalno",
    "medicalrecordnumber",
    "localpatientid",
)


def normalise_header(name: str) -> str:
    """Lower-case, separators removed: 'Date of Birth' → 'dateofbirth'."""
    return re.sub(r"[^0-9a-z]", "", name.lower())


def identifier_kind(name: str) -> str | None:
    """Why a column name looks like a direct identifier (None when it does not)."""
    key = normalise_header(name)
    if not key:
        return None
    if key in DIRECT_IDENTIFIER_NAMES or key in _MORE_IDENTIFIER_NAMES:
        return "a direct identifier"
    for part in _IDENTIFIER_PARTS:
        if part in key:
            return "a direct identifier"
    if key.startswith("dob") or key.endswith("dob"):
        return "a direct identifier (date of birth)"
    if key.startswith("nhs") and (key.endswith("no") or key.endswith("num") or key.endswith("number")):
        return "a direct identifier (NHS number)"
    if key.endswith("name") and key[: -len("name")] in _PERSON_WORDS:
        return "a direct identifier (a person's name)"
    return None
