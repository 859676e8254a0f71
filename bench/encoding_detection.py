"""What charset-normalizer would cost the importer's encoding detection, and why it is not used.

The importer's rule is strict: a file is UTF-8 (with or without BOM) when every byte decodes as
UTF-8, else Windows-1252, and a rejected file names its first bad line. A statistical detector
answers a guess among dozens of code pages instead. Run: `python -m bench.encoding_detection`
(charset-normalizer is installed with requests, which other dependencies need).
"""

from __future__ import annotations

import time

ROW = "Zoë;Müller;zoe{i}@exemple.fr;Société Générale — café\r\n"


def samples() -> list[tuple[str, str, bytes]]:
    """(name, the encoding the file was written in, its bytes)."""
    many = "".join(ROW.format(i=i) for i in range(20_000))
    one = "Zoë;Dupont\r\n"
    return [
        ("20,000 rows UTF-8", "utf-8", many.encode("utf-8")),
        ("20,000 rows Windows-1252", "cp1252", many.encode("cp1252")),
        ("1 row UTF-8", "utf-8", one.encode("utf-8")),
        ("1 row Windows-1252", "cp1252", one.encode("cp1252")),
    ]


def strict_rule(data: bytes) -> str:
    """The importer's rule (services/importer/domain/upload.py), without its line numbers."""
    try:
        data.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        data.decode("cp1252")
        return "cp1252"


def main() -> None:
    import charset_normalizer

    print(f"{'file':26} {'written in':10} {'charset-normalizer':>30} {'strict rule':>24}")
    for name, written, data in samples():
        started = time.process_time()
        best = charset_normalizer.from_bytes(data).best()
        guessed_cpu = time.process_time() - started
        started = time.process_time()
        ruled = strict_rule(data)
        ruled_cpu = time.process_time() - started
        guessed = best.encoding if best else "none"
        print(
            f"{name:26} {written:10} {guessed:>12} {1000 * guessed_cpu:9.1f} ms CPU "
            f"{ruled:>8} {1000 * ruled_cpu:7.2f} ms CPU"
        )


if __name__ == "__main__":
    main()
