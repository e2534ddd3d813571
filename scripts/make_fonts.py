#!/usr/bin/env python3
"""Subset DejaVu Sans (regular, bold) to the characters the report uses and write WOFF2 files that
the HTML page embeds, so it looks the same on any projector laptop and fetches nothing.

    python scripts/make_fonts.py [--src /usr/share/fonts/truetype/dejavu]

DejaVu fonts are free to redistribute (Bitstream Vera licence with DejaVu changes, public domain
for the changes); the licence is copied beside the files.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from fontTools import subset

OUT = Path(__file__).resolve().parent.parent / "opsmeeting" / "templates" / "fonts"
# Latin-1, Latin Extended-A (names such as Łukasz, Dvořák), punctuation, arrows and symbols the
# templates print (— · → ▲ ▼ ≥ ± − … %, the narrow no-break space used as a thousands separator).
UNICODES = "U+0020-007E,U+00A0-00FF,U+0100-017F,U+2009,U+202F,U+2010-2027,U+2030-203A,U+2190-2193,U+2212," \
           "U+2264-2265,U+25B2,U+25BC,U+20AC,U+2122,U+2713"


def build(src: Path) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for name in ("DejaVuSans", "DejaVuSans-Bold"):
        options = subset.Options()
        options.flavor = "woff2"
        options.layout_features = ["kern", "liga"]
        options.name_IDs = [0, 1, 2, 3, 4, 5, 6]
        options.notdef_outline = True
        font = subset.load_font(str(src / f"{name}.ttf"), options)
        subsetter = subset.Subsetter(options)
        subsetter.populate(unicodes=subset.parse_unicodes(UNICODES))
        subsetter.subset(font)
        subset.save_font(font, str(OUT / f"{name}.woff2"), options)
        print(OUT / f"{name}.woff2", (OUT / f"{name}.woff2").stat().st_size, "bytes")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--src", type=Path, default=Path("/usr/share/fonts/truetype/dejavu"))
    build(parser.parse_args().src)


if __name__ == "__main__":
    main()
