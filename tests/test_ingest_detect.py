"""Sniffing by magic bytes: the file name is a hint for text flavours only."""

from __future__ import annotations

import pytest

from longctx.ingest import MEDIA_DOCX, MEDIA_MARKDOWN, MEDIA_PDF, MEDIA_TEXT, IngestError, sniff_media_type


@pytest.mark.parametrize(
    ("head", "name", "expected"),
    [
        (b"%PDF-1.7\n%\xe2\xe3", None, MEDIA_PDF),
        (b"\x00\x00junk before the header %PDF-1.4\n", "x.bin", MEDIA_PDF),
        (b"PK\x03\x04\x14\x00\x00\x00[Content_Types].xml....word/document.xml", None, MEDIA_DOCX),
        (b"PK\x03\x04\x14\x00\x00\x00something", "contract.DOCX", MEDIA_DOCX),
        (b"Hello world\n", None, MEDIA_TEXT),
        (b"# Title\n", "notes.md", MEDIA_MARKDOWN),
        (b"BMW supply agreement\n", "a.txt", MEDIA_TEXT),  # weak magic only counts for binary data
        (b"\xef\xbb\xbfBOM text", None, MEDIA_TEXT),
        ("utf-16 text".encode("utf-16"), "a.txt", MEDIA_TEXT),
        ("caf\xe9".encode("cp1252"), None, MEDIA_TEXT),
        (b"", "empty.txt", MEDIA_TEXT),
    ],
)
def test_sniff_supported(head, name, expected):
    assert sniff_media_type(head, name) == expected


@pytest.mark.parametrize(
    ("head", "name", "what"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "scan.pdf", "image (PNG)"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", None, "image (JPEG)"),
        (b"PK\x03\x04\x14\x00\x00\x00foo/bar.txt", "archive.zip", "zip archive"),
        (b"PK\x03\x04\x14\x00\x00\x00[Content_Types].xml xl/workbook.xml", None, "Excel"),
        (b"\x7fELF\x02\x01\x01\x00", None, "executable (ELF)"),
        (b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00", "setup.exe", "executable (Windows)"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1\x00\x00", "old.doc", "legacy Office"),
        (b"\x1f\x8b\x08\x00", None, "gzip"),
        (b"abc\x00\x01\x02def", None, "binary data"),
    ],
)
def test_sniff_rejects_binaries(head, name, what):
    with pytest.raises(IngestError) as info:
        sniff_media_type(head, name)
    assert info.value.reason.startswith("unsupported file type: ")
    assert what in info.value.reason
