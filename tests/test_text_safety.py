"""Text from the sources cannot break the layout, and every name prints as written.

The filters (``clean``, ``title_cut``) are tested on their own. The report is then rendered through the
real pipeline from a copy of the bundled sample whose people, teams, services and incident titles are
CJK, Arabic, emoji, right-to-left overrides, and one 2,296-character title. In the PDF, every glyph
drawn is checked against the font program that draws it (see ``drawn_glyphs``): no character may be
drawn with .notdef (the empty box), nor with an empty glyph, nor with an emoji font's glyph when a
text font has it. The page must embed a subset of Noto Sans CJK JP with its CJK characters.

The PDF and page tests need poppler's ``pdffonts``, fontconfig's ``fc-match`` and the Noto fonts
(``scripts/system-deps.sh test``): they are skipped when one is missing, unless
``OPSMEETING_REQUIRE_PROMETHEUS=1`` (``make test``: every system dependency is expected) makes that a failure.
"""

from __future__ import annotations

import base64
import dataclasses
import io
import os
import re
import shutil
import subprocess
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import pytest
from fontTools.pens.boundsPen import BoundsPen
from fontTools.ttLib import TTFont
from hypothesis import given, settings
from hypothesis import strategies as st
from pypdf import PdfReader
from pypdf.generic import ContentStream, DictionaryObject, IndirectObject

from opsmeeting.aggregate.scorecards import build_scorecards
from opsmeeting.cli import sample_snapshot_dir
from opsmeeting.meeting.model import MeetingView
from opsmeeting.model import Snapshot
from opsmeeting.report import formats, render
from opsmeeting.report.formats import BIDI_CONTROLS, TITLE_LIMIT, clean, title_cut
from opsmeeting.report.render import RenderedReport, render_report
from opsmeeting.snapshot import read_snapshot

REQUIRE_ENV = "OPSMEETING_REQUIRE_PROMETHEUS"

# ----------------------------------------------------------------------------------------------- clean


@pytest.mark.parametrize("text, expected", [
    ("Disk full\non node-1", "Disk full on node-1"),
    ("  Disk\r\n\r\n\tfull  \n", "Disk full"),
    ("a\u00a0\u00a0b\u2028c\u2029d\u3000e\u202ff\x85g\x0bh\x0ci", "a b c d e f g h i"),  # every Unicode space
    ("", ""),
    (None, ""),
    (42, "42"),
])
def test_clean_makes_one_line_of_single_spaces(text, expected):
    assert clean(text) == expected


@pytest.mark.parametrize("control", [chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))],
                         ids=lambda c: f"U+{ord(c):04X}")
def test_clean_removes_every_bidirectional_control(control):
    assert BIDI_CONTROLS.count(control) == 1
    assert clean(f"Ledger {control}drift{control} after deploy") == "Ledger drift after deploy"
    assert clean(f"{control} {control}x{control} ") == "x"  # removed before the spaces are collapsed


def test_clean_keeps_what_is_text():
    kept = ("محمد علي", "Émile 🚒 Dupont", "👩\u200d🚒", "🇵🇹", "1\ufe0f\u20e3", "e\u0301", "\u200fRLM\u200e", "क्ष",
            "김민준")
    for text in kept:
        assert clean(text) == text  # marks (LRM, RLM), joiners and selectors are not embeddings nor overrides


def test_clean_removes_control_characters_and_mends_surrogates():
    assert clean("bell\x07 null\x00 del\x7f c1\x9b end") == "bell null del c1 end"
    assert clean("fire \ud83d\ude92 engine") == "fire 🚒 engine"  # a pair of surrogate code points: one character
    assert clean("lone \ud83d surrogate") == "lone \ufffd surrogate"  # a lone one cannot be written as UTF-8


# ------------------------------------------------------------------------------------------- title_cut

REVIEWERS_TITLE = ("Checkout p99 latency above 1.5s on api-9.prod.internal after the deploy of build 4411; "
                   "customers see timeouts\n" * 30)[:2296]


def test_a_2296_character_title_is_cut_at_a_word_with_an_ellipsis():
    assert len(REVIEWERS_TITLE) == 2296
    cut = title_cut(REVIEWERS_TITLE)
    assert len(cut) <= TITLE_LIMIT and cut.endswith("…") and "\n" not in cut
    body = cut[:-1]
    assert clean(REVIEWERS_TITLE).startswith(body) and clean(REVIEWERS_TITLE)[len(body)] == " "  # a word boundary
    assert len(body) >= TITLE_LIMIT - 1 - formats.WORD_SLACK
    assert clean(REVIEWERS_TITLE) == clean(REVIEWERS_TITLE)  # the uncut text, for title=


def test_titles_up_to_the_limit_are_not_cut():
    assert title_cut("x" * TITLE_LIMIT) == "x" * TITLE_LIMIT
    assert title_cut("x" * (TITLE_LIMIT + 1)) == "x" * (TITLE_LIMIT - 1) + "…"
    assert title_cut("Disk\n\nfull") == "Disk full"
    assert title_cut("x" * 100, 60) == "x" * 59 + "…"


def test_text_without_spaces_is_cut_at_the_limit():
    cjk = "数据库连接错误" * 40
    assert title_cut(cjk) == cjk[:TITLE_LIMIT - 1] + "…"


@pytest.mark.parametrize("grapheme", [
    "🚒",  # astral: a surrogate pair in UTF-16
    "👩\u200d🚒",  # a ZWJ sequence
    "👍🏽",  # an emoji modifier
    "🇵🇹",  # a flag: two regional indicators
    "1\ufe0f\u20e3",  # a keycap: a variation selector and an enclosing mark
    "🏴\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f",  # a tag sequence (Scotland)
    "e\u0301",  # a combining accent
    "a\u0301\u0323\u0308",  # several
    "क्ष",  # an Indic conjunct
    "\u1100\u1161\u11a8",  # decomposed Hangul
], ids=lambda g: "-".join(f"{ord(c):X}" for c in g))
def test_the_cut_never_splits_a_grapheme(grapheme):
    for offset in range(len(grapheme) + 1):  # the grapheme straddles the cut at every position
        text = "x" * (TITLE_LIMIT - 1 - offset) + grapheme * 3
        cut = title_cut(text)
        body = cut[:-1]
        assert cut.endswith("…") and len(cut) <= TITLE_LIMIT
        rest = text[len(body):]
        assert rest.startswith(grapheme) or rest == "", (offset, body[-8:], rest[:8])
        assert body == "x" * (TITLE_LIMIT - 1 - offset) + grapheme * ((len(body) - (TITLE_LIMIT - 1 - offset))
                                                                       // len(grapheme))


def test_two_flags_are_not_cut_into_a_wrong_pair():
    text = "x" * (TITLE_LIMIT - 4) + "🇵🇹🇫🇷🇩🇪"
    cut = title_cut(text)
    assert cut == "x" * (TITLE_LIMIT - 4) + "🇵🇹…"  # not 🇵🇹🇫 then a dangling 🇷


def test_a_grapheme_longer_than_the_limit_is_cut_anyway():
    zalgo = "a" + "\u0301" * 2000
    assert len(title_cut(zalgo)) == TITLE_LIMIT


GRAPHEMES = ["a", "Z", "9", "é", "e\u0301", "李", "龍", "데", "\u1100\u1161\u11a8", "ش", "🔥", "👩\u200d🚒", "🇵🇹",
             "👍🏽", "1\ufe0f\u20e3", "क्ष", "…"]
SEPARATORS = [" ", "\n", "\t", " \r\n ", "\u00a0", *BIDI_CONTROLS]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(GRAPHEMES + SEPARATORS), max_size=220), st.integers(min_value=8, max_value=200))
def test_title_cut_properties(tokens, limit):
    text = "".join(tokens)
    cleaned, cut = clean(text), title_cut(text, limit)
    assert not set(cut) & set(BIDI_CONTROLS) and "\n" not in cut and "  " not in cut and cut == cut.strip()
    if len(cleaned) <= limit:
        assert cut == cleaned
        return
    assert cut.endswith("…") and len(cut) <= limit
    body = cut[:-1]
    assert cleaned.startswith(body)
    boundaries, position = {0}, 0  # where the cleaned text may be cut: between its graphemes and spaces
    for token in re.findall("|".join(re.escape(t) for t in sorted([*GRAPHEMES, " "], key=len, reverse=True)),
                            cleaned):
        position += len(token)
        boundaries.add(position)
    assert position == len(cleaned)
    assert len(body) in boundaries, (body[-6:], cleaned[len(body):len(body) + 6])


def test_the_filters_are_registered_and_return_text_not_markup():
    env = render.environment()
    assert env.filters["clean"] is formats.clean and env.filters["title_cut"] is formats.title_cut
    out = env.from_string('<td title="{{ t|clean }}"><bdi>{{ t|title_cut }}</bdi></td>').render(
        t="<b>\u202eboom</b>\n" + "y" * 300)
    assert out.startswith('<td title="&lt;b&gt;boom&lt;/b&gt; yyy') and "\u202e" not in out
    assert out.endswith("…</bdi></td>") and "<b>" not in out


# ------------------------------------------------------------------------------------- the fixture

PEOPLE = ["Mohammed 李", "李小龙", "محمد علي", "Émile 🚒 Dupont", "王\u202e小芳", "山田 太郎", "김민준",
          "Zoë 👩\u200d🚒 Ng",  # the first eight to the people most on call: the cover names them
          "Ольга Иванова", "Nguyễn Văn An", "佐藤 花子", "José 🇵🇹 Silva", "陈\nTwo-Lines", "Ana 🔥 Ribeiro", "이서연",
          "Grace \u2066Kim\u2069"]
TEAMS = ["決済チーム", "平台组", "검색팀", "認証 🔐"]
SERVICES = ["結帳サービス", "支付接口", "总账", "API 网关", "卡夫卡", "主数据库", "検索API", "索引器", "推荐系统",
            "認証", "单点登录", "用户资料"]
TITLES = ["🔥 结账延迟超过 1.5 秒 on api-9 \u202etxet desrever", "データベース接続エラー 💾 (postgres)",
          "Ledger 🚨 balance drift \u202e?why\u202c after 👩\u200d🚒 deploy", "搜索索引崩溃 🐛\n\nsecond line"]
LONG_CHAR = "龘"  # in the long title only
LONG_TITLE = ("長い件名 " + LONG_CHAR * 10 + " ") * 200
LONG_TITLE = LONG_TITLE[:2296]


def fixture_snapshot() -> Snapshot:
    sample = read_snapshot(sample_snapshot_dir())
    assert sample.incidents is not None
    assert len(sample.incidents.people) == len(PEOPLE) and len(sample.setup.services) == len(SERVICES)
    hours: dict[str, float] = defaultdict(float)
    for shift in sample.incidents.shifts:
        hours[shift.person_id] += (shift.end - shift.start).total_seconds()
    by_hours = sorted(sample.incidents.people, key=lambda p: -hours[p.id])
    names = {p.id: PEOPLE[i] for i, p in enumerate(by_hours)}
    people = [p.model_copy(update={"name": names[p.id]}) for p in sample.incidents.people]
    teams = [t.model_copy(update={"display_name": TEAMS[i]}) for i, t in enumerate(sample.setup.teams)]
    services = [s.model_copy(update={"display_name": SERVICES[i]}) for i, s in enumerate(sample.setup.services)]
    incidents = [dataclasses.replace(inc, title=TITLES[i % len(TITLES)])
                 for i, inc in enumerate(sample.incidents.incidents)]
    major = next(i for i, inc in enumerate(incidents) if inc.severity_rank == 0)
    incidents[major] = dataclasses.replace(incidents[major], title=LONG_TITLE)
    return sample.model_copy(update={
        "setup": sample.setup.model_copy(update={"teams": teams, "services": services}),
        "incidents": sample.incidents.model_copy(update={"people": people, "incidents": incidents}),
    })


FIXTURE_TEXTS = [*PEOPLE, *TEAMS, *SERVICES, *TITLES]


def fixture_characters(predicate: Callable[[str], bool]) -> set[str]:
    return {c for text in FIXTURE_TEXTS for c in clean(text) if predicate(c)}


def is_cjk(char: str) -> bool:
    return unicodedata.name(char, "").startswith(("CJK", "HANGUL", "HIRAGANA", "KATAKANA"))


def is_emoji(char: str) -> bool:
    return ord(char) >= 0x1F000


def needs_ink(text: str) -> bool:
    """Whether ``text`` has a visible character (not a space, a joiner, a selector or a control)."""
    return any(unicodedata.category(c)[0] not in "ZC" and unicodedata.category(c) != "Mn" for c in text)


@cache
def system_font_file(family: str) -> str | None:
    found = subprocess.run(["fc-match", "--format=%{file}\n%{family}", family], capture_output=True, text=True,
                           check=False).stdout.split("\n")
    return found[0] if len(found) == 2 and family in found[1].split(",") else None


def require_system() -> None:
    """pdffonts, fc-match and the Noto fonts, or a skip (a failure under OPSMEETING_REQUIRE_PROMETHEUS)."""
    missing = [f"{tool} ({package})" for tool, package in (("pdffonts", "poppler-utils"), ("fc-match", "fontconfig"))
               if shutil.which(tool) is None]
    if not missing:
        missing = [f"the font {family} ({package})" for family, package in
                   (("Noto Sans CJK JP", "fonts-noto-cjk"), ("Noto Color Emoji", "fonts-noto-color-emoji"))
                   if system_font_file(family) is None]
    if missing:
        message = f"not installed: {', '.join(missing)} (scripts/system-deps.sh test)"
        if os.environ.get(REQUIRE_ENV):
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(scope="module")
def rendered() -> RenderedReport:
    require_system()
    snapshot = fixture_snapshot()
    return render_report(build_scorecards(snapshot), MeetingView())


# ------------------------------------------------------------------------- the glyphs drawn in a PDF


@dataclass
class PdfFont:
    """A Type0 font of the PDF: how its codes map to CIDs and text, and its embedded font program."""

    name: str  # BaseFont, with its subset tag: "JRLKGN+Noto-Sans-CJK-JP"
    cids: dict[int, int] | None  # code → CID; None: Identity-H
    text: dict[int, str]  # code → the characters (ToUnicode)
    program: TTFont
    family: str  # the program's family name
    cid_keyed: bool  # a CID-keyed CFF: a CID names the glyph "cid%05d"
    color: TTFont | None = None  # the system's color font of that family (CBDT, sbix, COLR), if it is one
    verdicts: dict[int, str | None] = field(default_factory=dict)

    @property
    def tag(self) -> str:
        return self.name.split("+")[0]

    def glyph_name(self, cid: int) -> str | None:
        order = self.program.getGlyphOrder()
        if self.cid_keyed:
            name = f"cid{cid:05d}"
            return name if name in self.program.getGlyphSet() else None
        return order[cid] if cid < len(order) else None  # CIDToGIDMap /Identity (checked)


@dataclass(frozen=True)
class Glyph:
    page: int  # from 1
    font: str
    cid: int
    text: str


def _cmap_pairs(data: str, kind: str) -> Iterator[tuple[str, ...]]:
    for block in re.findall(rf"begin{kind}(.*?)end{kind}", data, re.S):
        if kind.endswith("range"):
            yield from re.findall(r"<([0-9a-fA-F]+)>\s*<([0-9a-fA-F]+)>\s*(\[[^\]]*\]|<[0-9a-fA-F]+>|\d+)", block)
        else:
            yield from re.findall(r"<([0-9a-fA-F]+)>\s*(<[0-9a-fA-F]+>|\d+)", block)


def _utf16(hexa: str) -> str:
    return bytes.fromhex(hexa.strip("<>")).decode("utf-16-be")


def parse_cid_cmap(data: str) -> dict[int, int]:
    cids = {int(code, 16): int(cid) for code, cid in _cmap_pairs(data, "cidchar")}
    for low, high, first in _cmap_pairs(data, "cidrange"):
        cids.update({code: int(first) + i for i, code in enumerate(range(int(low, 16), int(high, 16) + 1))})
    return cids


def parse_to_unicode(data: str) -> dict[int, str]:
    text = {int(code, 16): _utf16(dst) for code, dst in _cmap_pairs(data, "bfchar")}
    for low, high, dst in _cmap_pairs(data, "bfrange"):
        codes = range(int(low, 16), int(high, 16) + 1)
        if dst.startswith("["):
            text.update(zip(codes, [_utf16(d) for d in re.findall(r"<[0-9a-fA-F]+>", dst)], strict=False))
        else:
            start = bytes.fromhex(dst.strip("<>"))
            for i, code in enumerate(codes):
                text[code] = (start[:-2] + (int.from_bytes(start[-2:], "big") + i).to_bytes(2, "big")).decode(
                    "utf-16-be")
    return text


def load_font(font: DictionaryObject) -> PdfFont:
    name = str(font["/BaseFont"]).lstrip("/")
    assert font["/Subtype"] == "/Type0", f"{name}: a {font['/Subtype']} font, not a Type0 font with a font program"
    encoding = font["/Encoding"]
    if isinstance(encoding, IndirectObject):
        encoding = encoding.get_object()
    if encoding == "/Identity-H":
        cids = None
    else:  # WeasyPrint's own CMap: codes for characters no font has map to CID 0
        data = encoding.get_data().decode("latin-1")
        assert "<0000> <ffff>" in data.split("endcodespacerange")[0], f"{name}: codes of other than 2 bytes"
        cids = parse_cid_cmap(data)
    descendant = font["/DescendantFonts"][0].get_object()
    assert descendant.get("/CIDToGIDMap", "/Identity") == "/Identity", f"{name}: a CIDToGIDMap stream"
    descriptor = descendant["/FontDescriptor"].get_object()
    stream = next(descriptor[k] for k in ("/FontFile2", "/FontFile3", "/FontFile") if k in descriptor)
    program = TTFont(io.BytesIO(stream.get_object().get_data()), lazy=True)
    cid_keyed = "CFF " in program and hasattr(program["CFF "].cff.topDictIndex[0], "ROS")
    family = program["name"].getDebugName(1) or name
    color = None
    system = system_font_file(family)
    if system is not None:
        candidate = TTFont(system, lazy=True, fontNumber=0)
        if any(table in candidate for table in ("CBDT", "sbix", "COLR")):
            color = candidate
    text = parse_to_unicode(font["/ToUnicode"].get_object().get_data().decode("latin-1"))
    return PdfFont(name, cids, text, program, family, cid_keyed, color)


def drawn_glyphs(pdf: bytes) -> tuple[list[Glyph], dict[str, PdfFont], dict[int, set[str]]]:
    """Every glyph the PDF's pages draw, in drawing order, the fonts that draw them, and the XObjects
    each page paints. Codes are decoded as a viewer decodes them: through the font's encoding (Identity-H
    or an embedded CMap) to a CID, then to the glyph of the embedded program; text through ToUnicode."""
    reader = PdfReader(io.BytesIO(pdf))
    fonts: dict[str, PdfFont] = {}
    glyphs: list[Glyph] = []
    painted: dict[int, set[str]] = defaultdict(set)

    def walk(number: int, content: Any, resources: DictionaryObject) -> None:
        font_resources = resources.get("/Font", DictionaryObject())
        xobjects = resources.get("/XObject", DictionaryObject())
        font: PdfFont | None = None
        operations = content.operations if isinstance(content, ContentStream) else \
            ContentStream(content, reader).operations
        for operands, operator in operations:
            if operator == b"Tf":
                ref = font_resources[operands[0]]
                key = str(ref.idnum) if isinstance(ref, IndirectObject) else str(operands[0])
                if key not in fonts:
                    fonts[key] = load_font(ref.get_object())
                font = fonts[key]
            elif operator in (b"Tj", b"TJ", b"'", b'"'):
                assert font is not None
                strings = operands[-1] if operator == b"TJ" else [operands[-1]]
                for s in strings:
                    if isinstance(s, int | float):  # a kerning number
                        continue
                    raw = bytes(s.original_bytes)  # as written in the stream (pypdf decodes strings as text)
                    for i in range(0, len(raw), 2):
                        code = int.from_bytes(raw[i:i + 2], "big")
                        cid = code if font.cids is None else font.cids.get(code, 0)
                        glyphs.append(Glyph(number, font.name, cid, font.text.get(code, "")))
            elif operator == b"Do":
                painted[number].add(str(operands[0]))
                xobject = xobjects[operands[0]].get_object()
                if xobject["/Subtype"] == "/Form":
                    walk(number, xobject, xobject.get("/Resources", resources).get_object())

    for number, page in enumerate(reader.pages, start=1):
        contents = page.get_contents()
        if contents is not None:
            walk(number, contents, page["/Resources"].get_object())
    return glyphs, {f.name: f for f in fonts.values()}, painted


def glyph_problem(font: PdfFont, glyph: Glyph) -> str | None:
    """Why ``glyph`` does not print its character, or None: .notdef (CID 0, or no such glyph), or an
    empty glyph for a visible character, or an emoji glyph without a bitmap in the system's color font."""
    if glyph.cid in font.verdicts:
        return font.verdicts[glyph.cid]
    verdict: str | None = None
    name = font.glyph_name(glyph.cid)
    if glyph.cid == 0 or name is None or name == ".notdef":
        verdict = ".notdef"
    elif needs_ink(glyph.text) and font.color is not None:  # WeasyPrint empties the glyph and paints the bitmap
        gid = font.program.getGlyphID(name)
        names = font.color.getGlyphOrder()
        strikes = font.color["CBLC"].strikes if "CBLC" in font.color else []
        if not any(names[gid] in sub.names for strike in strikes for sub in strike.indexSubTables):
            verdict = "a color glyph without a bitmap"
    elif needs_ink(glyph.text):
        glyph_set = font.program.getGlyphSet()
        pen = BoundsPen(glyph_set)
        glyph_set[name].draw(pen)
        if pen.bounds is None:
            verdict = "an empty glyph"
    if verdict is None and len(glyph.text) == 1:  # the glyph is the character's, where the program says
        mapped = (font.program.getBestCmap() or {}).get(ord(glyph.text))
        if mapped is not None and mapped != name:
            verdict = f"glyph {name}, not {mapped}"
    font.verdicts[glyph.cid] = verdict
    return verdict


@pytest.fixture(scope="module")
def glyphs(rendered: RenderedReport) -> tuple[list[Glyph], dict[str, PdfFont], dict[int, set[str]]]:
    assert rendered.pdf is not None
    return drawn_glyphs(rendered.pdf)


def family_of(font_name: str) -> str:
    return font_name.split("+", 1)[-1]


# ------------------------------------------------------------------------------------------ the PDF


def test_pdf_fonts_are_embedded_subsets(rendered, tmp_path):
    path = tmp_path / "report.pdf"
    path.write_bytes(rendered.pdf)
    lines = subprocess.run(["pdffonts", str(path)], capture_output=True, text=True, check=True).stdout.splitlines()[2:]
    rows = {line.split()[0]: line.split() for line in lines}
    assert all(row[-5:-3] == ["yes", "yes"] for row in rows.values()), lines  # emb, sub
    assert all(re.fullmatch(r"[A-Z]{6}\+.+", name) for name in rows), lines  # subset tags
    families = {family_of(name) for name in rows}
    assert {"DejaVu-Sans", "Noto-Sans-CJK-JP", "Noto-Color-Emoji"} <= families, families
    assert not {f for f in families if "CJK" in f and "JP" not in f}, families  # one CJK family: the stack's first


def test_no_character_is_drawn_with_notdef_or_an_empty_glyph(glyphs):
    drawn, fonts, _ = glyphs
    problems: dict[tuple[str, str, str], int] = defaultdict(int)
    for glyph in drawn:
        problem = glyph_problem(fonts[glyph.font], glyph)
        if problem is not None:
            problems[(glyph.text, family_of(glyph.font), problem)] += 1
    assert not problems, "characters that do not print: " + "; ".join(
        f"{text!r} in {font}: {problem} (×{n})" for (text, font, problem), n in sorted(problems.items()))


def test_every_character_of_the_fixture_is_drawn_by_the_right_font(glyphs):
    drawn, fonts, _ = glyphs
    by_character: dict[str, set[str]] = defaultdict(set)
    for glyph in drawn:
        if glyph_problem(fonts[glyph.font], glyph) is None:
            for char in glyph.text:
                by_character[char].add(family_of(glyph.font).removesuffix("-Bold"))
    wanted = fixture_characters(needs_ink)
    assert not wanted - set(by_character), f"never drawn: {''.join(sorted(wanted - set(by_character)))}"
    for char in fixture_characters(is_cjk):
        assert by_character[char] == {"Noto-Sans-CJK-JP"}, (char, by_character[char])
    for char in fixture_characters(is_emoji):
        assert by_character[char] == {"Noto-Color-Emoji"}, (char, by_character[char])
    for char in fixture_characters(lambda c: "ARABIC" in unicodedata.name(c, "")):
        assert by_character[char] == {"DejaVu-Sans"}, (char, by_character[char])
    # An emoji family named in the stack makes fontconfig put it first: digits and spaces then come from it.
    text_drawn_by_emoji = {c for c, families in by_character.items() if "Noto-Color-Emoji" in families and
                           not is_emoji(c) and c not in "\u200d\ufe0f\u20e3"}
    assert not text_drawn_by_emoji, f"text drawn by the emoji font: {sorted(text_drawn_by_emoji)}"


def test_emoji_bitmaps_are_painted(glyphs):
    drawn, fonts, painted = glyphs
    emoji = [g for g in drawn if fonts[g.font].color is not None and needs_ink(g.text)]
    assert emoji
    for glyph in emoji:  # WeasyPrint 70 paints the glyph's PNG as the image i<font tag><glyph id><interpolate 0|1>
        names = {f"/i{fonts[glyph.font].tag}{glyph.cid}{interpolate}" for interpolate in (0, 1)}
        assert names & painted[glyph.page], (glyph, sorted(painted[glyph.page]))


def test_the_cover_prints_cjk_and_emoji_names(glyphs):
    drawn, fonts, _ = glyphs
    cover = [g for g in drawn if g.page == 1 and glyph_problem(fonts[g.font], g) is None]
    text = "".join(g.text for g in cover)
    for name in ("Mohammed 李", "李小龙", "決済チーム", "Émile 🚒 Dupont", "王小芳", "認証 🔐"):
        assert name.replace(" ", "") in text.replace(" ", ""), name
    assert any(g.text == "李" and family_of(g.font) == "Noto-Sans-CJK-JP" for g in cover)


def test_overrides_do_not_reverse_the_text_after_them(rendered, glyphs):
    left = [re.sub(r"\s+", " ", rendered.html[max(m.start() - 70, 0):m.start()]).strip()
            for m in re.finditer(f"[{BIDI_CONTROLS}]", rendered.html)]
    assert not left, "bidirectional controls left in the page, after: " + " | ".join(sorted(set(left)))
    drawn, _, _ = glyphs
    squashed = "".join(g.text for g in drawn).replace(" ", "")
    assert "txetdesrever" in squashed and "reversetext" not in squashed  # the title as written, not reversed
    assert "?why" in squashed and "yhw?" not in squashed


def test_a_2296_character_title_does_not_fill_a_page(glyphs):
    drawn, _, _ = glyphs
    per_page: dict[int, int] = defaultdict(int)
    for glyph in drawn:
        per_page[glyph.page] += glyph.text.count(LONG_CHAR)
    full = LONG_TITLE.count(LONG_CHAR)
    assert sum(per_page.values()) > 0  # it is printed…
    uncut = {page: n for page, n in per_page.items() if n >= full / 4}
    assert not uncut, f"the long title printed uncut, on pages {uncut} ({LONG_CHAR} drawn; {full} in the title)"


# ----------------------------------------------------------------------------------------- the page

FACE = re.compile(r'@font-face \{ font-family: "Noto Sans CJK JP"; font-weight: 400; '
                  r'src: url\("data:font/woff2;base64,([A-Za-z0-9+/=]+)"\) format\("woff2"\); \}')


def test_the_page_embeds_a_subset_of_noto_cjk_with_its_characters(rendered):
    faces = FACE.findall(rendered.html)
    assert len(faces) == 1
    woff2 = base64.b64decode(faces[0])
    subset = TTFont(io.BytesIO(woff2))
    covered = {chr(c) for c in subset.getBestCmap()}
    assert fixture_characters(is_cjk) <= covered
    page_cjk = set(render._CJK.findall(rendered.html))
    assert covered == page_cjk  # the characters of the page, no more
    assert len(woff2) < 40_000, len(woff2)  # tens of kB, not MB
    assert subset["name"].getDebugName(13) and "Open Font License" in subset["name"].getDebugName(13)


def test_the_embedded_subset_is_deterministic(rendered):
    snapshot = fixture_snapshot()
    render.subset_data_url.cache_clear()
    again = render_report(build_scorecards(snapshot), MeetingView(), pdf=False)
    assert FACE.findall(again.html) == FACE.findall(rendered.html)


def test_a_page_without_cjk_embeds_no_cjk_face():
    sample = read_snapshot(sample_snapshot_dir())
    out = render_report(build_scorecards(sample), MeetingView(), pdf=False)
    assert "Noto Sans CJK JP\"; font-weight" not in out.html and render.PAGE_FACES_MARKER not in out.html


def test_without_noto_the_page_renders_and_says_so(monkeypatch, caplog):
    monkeypatch.setattr(render, "system_font", lambda family: None)
    snapshot = fixture_snapshot()
    out = render_report(build_scorecards(snapshot), MeetingView(), pdf=False)
    assert not FACE.findall(out.html) and render.PAGE_FACES_MARKER not in out.html
    assert "李小龙" in out.html
    assert any("install fonts-noto-cjk" in r.getMessage() for r in caplog.records)
