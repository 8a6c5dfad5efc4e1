"""Loaders: one test per format, and each kind of bad input named with its cause."""

from __future__ import annotations

import re

import pytest

from ragloop.errors import IngestError
from ragloop.ingest.loaders import LOADERS, file_doc_id, load_path, page_of, walk

from .samples import make_bad_input_folder, write_docx, write_pdf


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return make_bad_input_folder(tmp_path_factory.mktemp("inputs"))


def test_registry_knows_every_issue_format():
    assert {".md", ".txt", ".html", ".pdf", ".docx", ".jsonl"} <= set(LOADERS)


def test_markdown_headings_become_nested_sections(folder):
    (doc,) = load_path(folder["good_md"])
    assert doc.title == "Volcano Facts"
    assert [(s.level, s.title) for s in doc.sections] == [(1, "Volcano Facts"), (2, "Eruptions")]
    eruptions = doc.sections[1]
    assert doc.text[eruptions.start:eruptions.end].startswith("Eruptions\n\nAn eruption")
    assert doc.sections[0].end == len(doc.text)  # the top section holds its subsection
    assert doc.id == file_doc_id(folder["good_md"]) and doc.mtime and len(doc.content_hash) == 64
    assert doc.source == str(folder["good_md"])


def test_markdown_front_matter_title_and_code_fences(tmp_path):
    path = tmp_path / "notes.md"
    path.write_text("---\ntitle: \"Field Notes\"\n---\nIntro line.\n\n```\n# not a heading\n```\n"
                    "Setext Heading\n--------------\nBody.\n", encoding="utf-8")
    (doc,) = load_path(path)
    assert doc.title == "Field Notes"
    assert [(s.level, s.title) for s in doc.sections] == [(2, "Setext Heading")]
    assert "# not a heading" in doc.text and "title:" not in doc.text


def test_html_main_text_without_boilerplate(folder):
    (doc,) = load_path(folder["good_html"])
    assert doc.title == "Lighthouses"
    assert "rotating beam" in doc.text
    assert "Copyright" not in doc.text and "Contact" not in doc.text


def test_pdf_pages_and_outline(folder):
    (doc,) = load_path(folder["good_pdf"])
    assert "Quarterly revenue" in doc.text and "Glaciers retreat" in doc.text
    assert len(doc.pages) == 2
    assert page_of(doc, doc.text.index("Quarterly")) == 1
    assert page_of(doc, doc.text.index("Glaciers")) == 2
    assert [s.title for s in doc.sections] == ["Finance", "Climate"]
    assert doc.metadata["n_pages"] == 2


def test_pdf_encrypted_with_empty_password_opens(tmp_path):
    (doc,) = load_path(write_pdf(tmp_path / "open.pdf", ["Readable anyway."], password=""))
    assert "Readable anyway." in doc.text


def test_docx_headings_and_tables(tmp_path):
    (doc,) = load_path(write_docx(tmp_path / "g.docx"))
    assert doc.title == "Gardening Guide"
    assert [(s.level, s.title) for s in doc.sections] == [(1, "Gardening Guide"),
                                                         (2, "Watering")]
    assert "tomato | two" in doc.text


def test_beir_bad_line_is_named_and_other_lines_load(folder):
    errors: list[IngestError] = []
    docs = load_path(folder["corpus"], errors=errors)
    assert [d.id for d in docs] == ["d1", "d2"]
    assert docs[0].title == "Honey bees" and docs[0].text.startswith("Honey bees communicate")
    assert len(errors) == 1 and str(errors[0]).startswith(f"{folder['corpus']}:2: not JSON")
    with pytest.raises(IngestError, match=":2: not JSON"):
        load_path(folder["corpus"])  # without an error list the first bad line raises


def test_non_utf8_text_is_decoded_and_reported(folder):
    (doc,) = load_path(folder["cp1252"])
    assert doc.text == "Café crème brûlée costs 5 € at the “bistro”."
    assert doc.metadata["encoding"] == "cp1252"
    assert "not UTF-8" in doc.metadata["warnings"][0]


@pytest.mark.parametrize(("name", "cause"), [
    ("binary", "binary content"), ("empty", "empty file"), ("corrupt_pdf", "corrupt"),
    ("encrypted_pdf", "encrypted PDF"), ("huge", "50.0 MB, over the [ingest] max_file_mb")])
def test_bad_inputs_raise_errors_naming_file_and_cause(folder, name, cause):
    with pytest.raises(IngestError) as info:
        load_path(folder[name])
    assert str(folder[name]) in str(info.value) and cause in str(info.value)


def test_pdf_without_text_layer(tmp_path):
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(200, 200)
    path = tmp_path / "scan.pdf"
    with path.open("wb") as handle:
        writer.write(handle)
    with pytest.raises(IngestError, match="no text layer"):
        load_path(path)


def test_walk_include_exclude(tmp_path):
    for rel in ("a.md", "sub/b.txt", "sub/c.log", ".hidden/d.md", "node_modules/e.md"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("x")
    found = [p.relative_to(tmp_path).as_posix()
             for p in walk([tmp_path], include=("**/*.md", "**/*.txt"),
                           exclude=("**/.*/**", "**/node_modules/**"))]
    assert found == ["a.md", "sub/b.txt"]
    assert list(walk([tmp_path / "sub/c.log"], include=("**/*.md",))) == [tmp_path / "sub/c.log"]
    with pytest.raises(IngestError, match="no such file"):
        list(walk([tmp_path / "missing"]))


def test_a_docx_that_is_not_a_zip(tmp_path):
    path = tmp_path / "fake.docx"
    path.write_text("plain text pretending to be a Word file")
    with pytest.raises(IngestError, match="corrupt or not a .docx"):
        load_path(path)


def test_unknown_suffix_named_directly(tmp_path):
    path = tmp_path / "table.xyz"
    path.write_text("a,b\n")
    with pytest.raises(IngestError, match="no loader for '.xyz'"):
        load_path(path)


def add_zip_members(path, members: dict[str, int]):
    """Add members of N zero bytes each to a zip-based file (a zip bomb when N is large:
    zeros compress about a thousandfold)."""
    import zipfile

    with zipfile.ZipFile(path, "a", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        for name, size in members.items():
            with z.open(name, "w") as member:
                for start in range(0, size, 1 << 20):
                    member.write(bytes(min(1 << 20, size - start)))
    return path


def test_docx_zip_bomb_is_refused_before_parsing(tmp_path):
    bomb = add_zip_members(write_docx(tmp_path / "bomb.docx"),
                           {"word/media/image1.png": 128 * 1024 * 1024})
    assert bomb.stat().st_size < 1024 * 1024  # under max_file_mb by far: only the
    with pytest.raises(IngestError) as info:  # unpacked size gives it away
        load_path(bomb)
    assert str(bomb) in str(info.value)
    assert re.search(r"unpacks to 128\.\d MB, over the \[ingest\] max_unpacked_mb limit "
                     r"of 100 MB", str(info.value))
    (doc,) = load_path(bomb, max_unpacked_mb=200)  # a limit the user raised lets it in
    assert doc.title == "Gardening Guide"


def test_docx_with_too_many_members_is_refused(tmp_path):
    many = add_zip_members(write_docx(tmp_path / "many.docx"),
                           {f"customXml/extra{i}.xml": 1 for i in range(60)})
    with pytest.raises(IngestError, match=r"holds \d+ members, over the \[ingest\] "
                                          r"max_archive_members limit of 50"):
        load_path(many, max_archive_members=50)
    assert load_path(many)  # the default limit is far above a real document's parts


def test_a_zip_bomb_fails_alone_and_the_batch_goes_on(tmp_path):
    from fakes import FakeEmbedder
    from ragloop.config import IngestSettings
    from ragloop.ingest.sync import ingest_paths

    from .fake_store import FakeStore

    docs = tmp_path / "docs"
    docs.mkdir()
    add_zip_members(write_docx(docs / "bomb.docx"), {"word/media/big.bin": 3 * 1024 * 1024})
    (docs / "notes.md").write_text("# Notes\n\nKettles boil water quickly.\n")
    store = FakeStore()
    report = ingest_paths([docs], settings=IngestSettings(max_unpacked_mb=2), store=store,
                          embedder=FakeEmbedder(), progress=False)
    assert report.failed == 1 and report.added == 1
    assert "bomb.docx" in report.errors[0] and "max_unpacked_mb" in report.errors[0]
    assert [e.title for e in store.documents()] == ["Notes"]


@pytest.mark.parametrize(("data", "text", "encoding"), [
    # UTF-8 with damage stays UTF-8: a stray legacy byte, a cut-off last character
    ("Un café crème".encode() + b" \xe9t\xe9", "Un café crème été", "utf-8"),
    ("café\n".encode() + b"costs 5 \x80\n", "café\ncosts 5 €", "utf-8"),
    ("naïve café".encode()[:-1], "naïve cafÃ", "utf-8"),
    # short legacy text: too little evidence for a detector, read as Western European
    (b"caf\xe9", "café", "cp1252"),
    (b"caf\xe9 \x81 ok", "café \x81 ok", "cp1252"),
    (b"Men\xfc: caf\xe9", "Menü: café", "cp1252"),
    # enough evidence: another code page that reads with less mess wins
    ("Привет, как дела? Это тестовый файл о чае и кофе.".encode("cp1251"),
     "Привет, как дела? Это тестовый файл о чае и кофе.", "cp1251"),
    ("Καλημέρα, αυτό είναι ένα αρχείο.".encode("cp1253"),
     "Καλημέρα, αυτό είναι ένα αρχείο.", "cp1253"),
])
def test_invalid_utf8_decoding_choice(tmp_path, data, text, encoding):
    path = tmp_path / "probe.txt"
    path.write_bytes(data)
    (doc,) = load_path(path)
    assert (doc.text, doc.metadata["encoding"]) == (text, encoding)
    assert doc.metadata["warnings"] and "UTF-8" in doc.metadata["warnings"][0]


def test_a_list_item_followed_by_a_dash_is_no_heading(tmp_path):
    path = tmp_path / "api.md"
    path.write_text("# API\n\n- *class* Connection\n  -\nsend(obj)\n  - Send an object.\n",
                    encoding="utf-8")
    (doc,) = load_path(path)
    assert [s.title for s in doc.sections] == ["API"]
    assert "Connection" in doc.text
