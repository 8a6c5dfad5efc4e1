"""EPUB books: the chapters (XHTML files) in the order of the book's spine, each read as an
HTML page (``html``) into one document, so headings give section paths as in HTML. The book's
own navigation document and chapters that are only links (a table of contents, an index)
are left out and named in ``metadata["contents_chapters"]``. The title is the book's
``dc:title``. Only the standard library's ``zipfile`` and ``lxml`` are needed; the archive is
checked against the zip-bomb limits before anything is unpacked."""

from __future__ import annotations

import io
import posixpath
import zipfile
from collections.abc import Iterator
from pathlib import Path

import lxml.etree

from ragloop.errors import IngestError
from ragloop.ingest.loaders.base import (
    LOADERS,
    DocumentBuilder,
    LoadItem,
    LoadLimits,
    check_zip,
    file_doc_id,
    file_metadata,
)
from ragloop.ingest.loaders.html import is_contents, page_content, write_content

_XML = lxml.etree.XMLParser(resolve_entities=False, no_network=True, recover=True)
_NS = {"c": "urn:oasis:names:tc:opendocument:xmlns:container",
       "opf": "http://www.idpf.org/2007/opf", "dc": "http://purl.org/dc/elements/1.1/"}
_CHAPTER_TYPES = ("application/xhtml+xml", "text/html")


def _xml(path: Path, archive: zipfile.ZipFile, name: str):
    try:
        return lxml.etree.fromstring(archive.read(name), _XML)
    except KeyError:
        raise IngestError(path, f"not an EPUB book: '{name}' is missing") from None
    except lxml.etree.XMLSyntaxError as err:
        raise IngestError(path, f"corrupt EPUB: '{name}' is not XML ({err})") from None


def spine(path: Path, archive: zipfile.ZipFile) -> tuple[str, list[tuple[str, bool]]]:
    """(the book's title, [(archive name of a chapter, whether it is the navigation
    document)] in reading order)."""
    container = _xml(path, archive, "META-INF/container.xml")
    rootfiles = container.xpath("//c:rootfile/@full-path", namespaces=_NS)
    if not rootfiles:
        raise IngestError(path, "not an EPUB book: no package file named in container.xml")
    opf_name = str(rootfiles[0])
    package = _xml(path, archive, opf_name)
    if package is None:
        raise IngestError(path, f"corrupt EPUB: '{opf_name}' is empty")
    base = posixpath.dirname(opf_name)
    title = " ".join(package.xpath("string(//dc:title)", namespaces=_NS).split())
    manifest = {item.get("id"): item for item in package.xpath("//opf:manifest/opf:item",
                                                               namespaces=_NS)}
    chapters = []
    for ref in package.xpath("//opf:spine/opf:itemref", namespaces=_NS):
        item = manifest.get(ref.get("idref"))
        if item is None or item.get("media-type") not in _CHAPTER_TYPES:
            continue
        name = posixpath.normpath(posixpath.join(base, item.get("href", "")))
        chapters.append((name, "nav" in (item.get("properties") or "").split()))
    return title, chapters


@LOADERS.register
class EpubLoader:
    suffixes = (".epub",)
    version = 1
    multi_document = False

    def load(self, path: Path, data: bytes | None, limits: LoadLimits) -> Iterator[LoadItem]:
        data = data or b""
        check_zip(path, data, limits, ".epub")
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            title, chapters = spine(path, archive)
            builder = DocumentBuilder()
            first_title = None
            left_out = []
            for name, is_nav in chapters:
                try:
                    content, page_title = page_content(path, archive.read(name))
                except KeyError:
                    raise IngestError(path, f"corrupt EPUB: chapter '{name}' is "
                                            "missing") from None
                if is_nav or is_contents(content):
                    left_out.append(name)
                    continue
                chapter_title = write_content(content, builder) or page_title
                first_title = first_title or chapter_title
        meta = file_metadata(path, data)
        meta["n_chapters"] = len(chapters) - len(left_out)
        if left_out:
            meta["contents_chapters"] = left_out
        yield builder.build(doc_id=file_doc_id(path), source=str(path),
                            title=title or first_title or path.stem,
                            mtime=path.stat().st_mtime, metadata=meta)
