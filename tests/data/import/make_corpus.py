"""Write the import test corpus and expected.json; run `python tests/data/import/make_corpus.py`.

Each case declares its bytes and, by hand, what the importer must make of them: either
{"file_error": <part of the message>} or {"rows": N, "valid": N, "anomalies": [[line, field]]}.
"""

from __future__ import annotations

import json
from pathlib import Path

HERE = Path(__file__).resolve().parent

HEADER_EN = "Civility;Last name;First name;Email address;Phone;Mobile;Language code;Security level"
HEADER_MANUAL = (
    "Civility;Last name;First name;Email address;Phone (Optional);Mobile (Optional);"
    "Language code;Security level (1 = weak, 3 = strong)"
)
HEADER_FR = "Civilité;Nom;Prénom;Adresse e-mail;Téléphone;Mobile;Code langue;Niveau de sécurité"
MANUAL_LINES = [
    "MME;Dupont;Lovana;ldupont@company.ws;+685 XX XX XX;+685 XX XX XX;en-US;3",
    "M;TEST;Brian;btest@gmail2.com;;;en-US;2",
    "MME;TEST1;Wendy;wtest1@gmail2.com;;;en-US;3",
    "MLE;TEST2;Julia;jtest2@gmail2.com;;;en-US;2",
]

CASES: dict[str, tuple[bytes, dict]] = {}


def text(*lines: str, newline: str = "\n", encoding: str = "utf-8", bom: bool = False) -> bytes:
    """The lines joined, each ended by `newline`, encoded."""
    body = "".join(line + newline for line in lines).encode(encoding)
    return (b"\xef\xbb\xbf" if bom else b"") + body


def user(n: int, civility: str = "M", **cells: str) -> str:
    """A valid line for user n, with some cells replaced (by column name)."""
    row = {
        "civility": civility,
        "last_name": f"Martin{n}",
        "first_name": f"Paul{n}",
        "email": f"paul.martin{n}@example.com",
        "phone": "",
        "mobile": "",
        "language": "fr-FR",
        "password_level": "2",
    }
    row.update(cells)
    return ";".join(row.values())


def ok(rows: int, valid: int | None = None, anomalies: tuple = ()) -> dict:
    return {
        "rows": rows,
        "valid": rows - len({line for line, _ in anomalies}) if valid is None else valid,
        "anomalies": [list(anomaly) for anomaly in anomalies],
    }


def rejected(part_of_message: str) -> dict:
    return {"file_error": part_of_message}


def case(name: str, content: bytes, expected: dict) -> None:
    assert name not in CASES, name
    CASES[name] = (content, expected)


# --- The administrator's manual, section 5.3 -------------------------------------------------
case(
    "manual_sample.csv",
    text(HEADER_MANUAL, *MANUAL_LINES, newline="\r\n"),
    ok(4, anomalies=((2, "phone"), (2, "mobile"))),
)
case("manual_lines_no_header.csv", text(*MANUAL_LINES[1:]), ok(3))

# --- Header line -------------------------------------------------------------------------------
case("header_en.csv", text(HEADER_EN, user(1), user(2, "MME")), ok(2))
case(
    "header_fr.csv",
    text(
        HEADER_FR,
        "MME;Lefèvre;Hélène;helene.lefevre@exemple.fr;01 23 45 67 89;06 12 34 56 78;fr-FR;3",
        "M;Dupré;François;francois.dupre@exemple.fr;;;fr-FR;1",
    ),
    ok(2),
)
case(
    "header_fr_loose.csv",
    text(
        " CIVILITE ; nom ; PRENOM ; adresse email ; telephone ; mobile ; code_langue ; "
        "niveau de securite ",
        user(1),
    ),
    ok(1),
)
case("no_header.csv", text(user(1), user(2), user(3)), ok(3))
case(
    "header_misordered.csv",
    text("Email;Civility;Last name;First name;Phone;Mobile;Language;Security level", user(1)),
    rejected("another order"),
)
case("only_header.csv", text(HEADER_EN), rejected("header line but no user lines"))

# --- Encodings -----------------------------------------------------------------------------------
case(
    "bom_utf8.csv",
    text(HEADER_EN, user(1, last_name="Müller", first_name="Zoé"), user(2), bom=True),
    ok(2),
)
case("bom_no_header.csv", text(user(1), user(2, "MLE"), bom=True), ok(2))
case(
    "cp1252_accents.csv",
    text(
        HEADER_FR,
        user(1, "MME", last_name="Lefèvre", first_name="Hélène"),
        user(2, last_name="Œuvray", first_name="François"),
        user(3, "MLE", last_name="Müller", first_name="Anaïs"),
        encoding="cp1252",
    ),
    ok(3),
)
case(
    "undecodable.csv",
    text(user(1)) + b"M;Bad\x81\x8dName;Paul;bad@example.com;;;fr-FR;2\n",
    rejected("cannot be read"),
)
case(
    "bom_then_not_utf8.csv",
    text(user(1), bom=True) + user(2, last_name="Lef\xe8vre").encode("cp1252") + b"\n",
    rejected("marked as UTF-8"),
)
case(
    "utf16.csv",
    "\ufeff".encode("utf-16-le") + text(user(1), encoding="utf-16-le"),
    rejected("UTF-16"),
)
case("utf16_no_bom.csv", text(HEADER_EN, user(1), encoding="utf-16-le"), rejected("UTF-16"))

# --- Separators and line endings ---------------------------------------------------------------
case(
    "comma_separated.csv",
    text(HEADER_EN.replace(";", ","), user(1).replace(";", ","), user(2).replace(";", ",")),
    ok(2),
)
case(
    "comma_with_quoted_semicolon.csv",
    text(
        user(1).replace(";", ","),
        'MME,"Smith;Jones","Anne, Marie",anne.smith@example.com,,,en-GB,1',
    ),
    ok(2),
)
case(
    "mixed_separators.csv",
    text(user(1), user(2), user(3).replace(";", ","), user(4)),
    ok(4, anomalies=((3, "line"),)),
)
case("crlf.csv", text(HEADER_EN, user(1), user(2), newline="\r\n"), ok(2))
case("cr_only.csv", text(user(1), user(2), user(3), newline="\r"), ok(3))
case(
    "quoted_fields.csv",
    text(
        'MME;"Dupont; née Martin";Lovana;ldupont@company.ws;;;en-US;3',
        'M;"Du\npont";Jean;jdupont@company.ws;;;en-US;3',
        'M;"D""Artagnan";"Charles\nde Batz";dartagnan@company.ws;;;fr-FR;1',
        user(4),
        newline="\r\n",
    ),
    ok(4, anomalies=((2, "last_name"), (4, "first_name"))),
)
case(
    "unterminated_quote.csv",
    text(user(1), 'M;"Martin2;Paul2;paul2@example.com;;;fr-FR;2', user(3)),
    ok(2, anomalies=((2, "line"),)),
)

# --- File-level refusals ---------------------------------------------------------------------------
case("empty.csv", b"", rejected("empty"))
case("only_blank_lines.csv", b"\r\n\n   \n;;;;;;;\n", rejected("no user lines"))
case("wrong_extension.xlsx", b"PK\x03\x04" + bytes(60), rejected("Only .csv files"))
case("wrong_extension.txt", text(user(1)), rejected("Only .csv files"))
case(
    "binary_png.csv",
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10\x00\x00\x00\x10\x08\x06" + bytes(64),
    rejected("PNG image"),
)
case("xlsx_renamed.csv", b"PK\x03\x04\x14\x00\x06\x00" + bytes(200), rejected("Excel workbook"))
case("control_bytes.csv", bytes(range(256)) * 4, rejected("binary data"))
case(
    "three_columns_everywhere.csv",
    text("M;Martin;Paul", "MME;Durand;Anne"),
    rejected("No line has the 8 expected columns"),
)

# --- Line shapes -----------------------------------------------------------------------------------
case(
    "blank_lines.csv",
    text("", HEADER_EN, "", user(1), "   ", ";;;;;;;", user(2), "", ""),
    ok(2),
)
case(
    "repeated_header.csv",
    text(HEADER_EN, user(1), HEADER_EN, user(2)),
    ok(3, anomalies=((3, "line"),)),
)
case(
    "trailing_empty_columns.csv",
    text(HEADER_EN + ";;", user(1) + ";;;", user(2) + ";", user(3) + ";;;;;;;;;;"),
    ok(3),
)
case(
    "columns_500.csv",
    text(user(1), ";".join(["x"] * 500), user(3)),
    ok(3, anomalies=((2, "line"),)),
)
case(
    "columns_3.csv",
    text(user(1), user(2), "M;Martin;Paul", user(4)),
    ok(4, anomalies=((3, "line"),)),
)
case(
    "columns_7_and_9.csv",
    text(user(1), user(2).rsplit(";", 1)[0], user(3) + ";extra"),
    ok(3, anomalies=((2, "line"), (3, "line"))),
)
case(
    "field_100kb.csv",
    text(user(1), user(2, last_name="N" * 100_000), user(3)),
    ok(3, anomalies=((2, "last_name"),)),
)
case(
    "field_200kb.csv",
    text(user(1), user(2, first_name="P" * 200_000), user(3)),
    ok(3, anomalies=((2, "line"),)),
)
case(
    "nul_byte.csv",
    text(HEADER_EN, user(1), user(2, first_name="Pa\x00ul"), user(3)),
    ok(3, anomalies=((3, "first_name"),)),
)

# --- Row values ------------------------------------------------------------------------------------
case(
    "duplicate_emails.csv",
    text(
        user(1, email="same@example.com"),
        user(2),
        user(3, email="Same@Example.COM"),
        user(4),
        user(5, email=" same@example.com "),
    ),
    ok(5, anomalies=((3, "email"), (5, "email"))),
)
case(
    "bad_civility.csv",
    text(user(1, "Dr"), user(2, "X"), user(3, ""), user(4, "Mme")),
    ok(4, anomalies=((1, "civility"), (2, "civility"), (3, "civility"))),
)
case(
    "civility_variants.csv",
    text(
        *(
            user(n, civility)
            for n, civility in enumerate(
                "m Mr MR. Mister Monsieur mrs Ms Madame mme Miss Mlle mademoiselle MLE M.".split(),
                start=1,
            )
        )
    ),
    ok(14),
)
case(
    "bad_language.csv",
    text(
        user(1, language="english"),
        user(2, language="en"),
        user(3, language="xx-XX"),
        user(4, language=""),
        user(5, language="en-us"),
        user(6, language="EN_US"),
        user(7, language="fr_fr"),
    ),
    ok(7, anomalies=((1, "language"), (2, "language"), (3, "language"), (4, "language"))),
)
case(
    "bad_level.csv",
    text(
        user(1, password_level="0"),
        user(2, password_level="4"),
        user(3, password_level="x"),
        user(4, password_level=""),
        user(5, password_level="1"),
        user(6, password_level="3"),
    ),
    ok(6, anomalies=tuple((line, "password_level") for line in (1, 2, 3, 4))),
)
case(
    "invalid_email.csv",
    text(
        user(1, email="no-at-sign"),
        user(2, email="two@@example.com"),
        user(3, email="a@b"),
        user(4, email=""),
        user(5, email="x" * 250 + "@example.com"),
        user(6, email="ok.person@example.com"),
    ),
    ok(6, anomalies=((1, "email"), (2, "email"), (3, "email"), (4, "email"), (5, "email"))),
)
case(
    "long_name.csv",
    text(user(1, last_name="L" * 101), user(2, first_name="F" * 100), user(3, first_name="")),
    ok(3, anomalies=((1, "last_name"), (3, "first_name"))),
)
case(
    "formula_names.csv",
    text(
        user(1, last_name="=cmd|' /C calc'!A0"),
        user(2, last_name="+SUM(A1:A2)"),
        user(3, first_name="@IMPORTXML(x)"),
        user(4, first_name="-2+3"),
    ),
    ok(4),
)
case(
    "whitespace_around_fields.csv",
    text(
        "  MME ;  Dupont  ;\tLovana ; LDupont@Company.WS ;  ;  ; en-US ; 3 ",
        " m;Martin ; Paul;  paul@example.com;;; fr-FR;1",
    ),
    ok(2),
)
case(
    "phones.csv",
    text(
        user(1, phone="01 23 45 67 89", mobile="06 12 34 56 78"),
        user(2, phone="(212) 555-0123", language="en-US"),
        user(3, phone="+44 20 7946 0958", mobile="0033 6 12 34 56 78"),
        user(4, phone="123"),
        user(5, mobile="06 CALL ME"),
        user(6, phone="+685 XX XX XX"),
    ),
    ok(6, anomalies=((4, "phone"), (5, "mobile"), (6, "phone"))),
)
case(
    "several_anomalies_one_line.csv",
    text(user(1, "Dr", email="nope", language="klingon", password_level="9"), user(2)),
    ok(2, anomalies=((1, "civility"), (1, "email"), (1, "language"), (1, "password_level"))),
)


def main() -> None:
    expected = {}
    for name, (content, outcome) in CASES.items():
        (HERE / name).write_bytes(content)
        expected[name] = outcome
    (HERE / "expected.json").write_text(json.dumps(expected, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {len(CASES)} files and expected.json")


if __name__ == "__main__":
    main()
