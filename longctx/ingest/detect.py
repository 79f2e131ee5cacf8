"""Media-type sniffing by magic bytes: the file name is only a hint, never trusted for binary formats."""

from __future__ import annotations

from .errors import IngestError
from .types import MEDIA_DOCX, MEDIA_MARKDOWN, MEDIA_PDF, MEDIA_TEXT

HEAD_BYTES = 8192

_BOMS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")

# Signatures of binaries we know and refuse, with a name users recognise.
_KNOWN_BINARIES: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "image (PNG)"),
    (b"\xff\xd8\xff", "image (JPEG)"),
    (b"GIF87a", "image (GIF)"),
    (b"GIF89a", "image (GIF)"),
    (b"II*\x00", "image (TIFF)"),
    (b"MM\x00*", "image (TIFF)"),
    (b"\x00\x00\x00\x0cjP  ", "image (JPEG 2000)"),
    (b"\x7fELF", "executable (ELF)"),
    (b"\xcf\xfa\xed\xfe", "executable (Mach-O)"),
    (b"\xfe\xed\xfa\xcf", "executable (Mach-O)"),
    (b"\xca\xfe\xba\xbe", "executable (Mach-O or Java class)"),
    (b"\x1f\x8b", "gzip archive"),
    (b"\xfd7zXZ\x00", "xz archive"),
    (b"7z\xbc\xaf\x27\x1c", "7-Zip archive"),
    (b"Rar!\x1a\x07", "RAR archive"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "legacy Office document (.doc/.xls/.ppt); save it as .docx or PDF"),
    (b"{\\rtf", "RTF document; save it as .docx or PDF"),
    (b"\x00asm", "WebAssembly binary"),
    (b"SQLite format 3\x00", "SQLite database"),
    (b"%!PS", "PostScript; convert it to PDF"),
)

# Short signatures that plain text can also start with ("BMW ...", "MZ..."): only believed for binary data.
_WEAK_BINARIES: tuple[tuple[bytes, str], ...] = (
    (b"BM", "image (BMP)"),
    (b"MZ", "executable (Windows)"),
    (b"BZh", "bzip2 archive"),
)

_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")


def _is_binary(head: bytes) -> bool:
    """NULs, or many control bytes, mean not text (checked only when no BOM announces UTF-16)."""
    if not head:
        return False
    if b"\x00" in head:
        return True
    controls = sum(1 for b in head if b < 32 and b not in (9, 10, 12, 13, 27))
    return controls > max(4, len(head) // 20)


def _text_type(filename: str | None) -> str:
    name = (filename or "").lower()
    return MEDIA_MARKDOWN if name.endswith((".md", ".markdown")) else MEDIA_TEXT


def sniff_media_type(head: bytes, filename: str | None = None) -> str:
    """Media type from the first bytes of a file; raises IngestError for binaries we cannot read."""
    name = (filename or "").lower()
    # PDF readers accept the header anywhere in the first 1024 bytes (junk before it is common).
    if b"%PDF-" in head[:1024]:
        return MEDIA_PDF
    if head.startswith(_ZIP_MAGIC):
        if b"word/" in head or name.endswith((".docx", ".docm", ".dotx")):
            return MEDIA_DOCX
        if b"xl/" in head:
            raise IngestError("unsupported file type: Excel workbook (.xlsx)")
        if b"ppt/" in head:
            raise IngestError("unsupported file type: PowerPoint presentation (.pptx)")
        if b"[Content_Types].xml" in head:
            return MEDIA_DOCX  # an OOXML package; the DOCX parser checks for word/document.xml
        raise IngestError("unsupported file type: zip archive (not a .docx)")
    if head.startswith(_BOMS):
        return _text_type(filename)
    for magic, what in _KNOWN_BINARIES:
        if head.startswith(magic):
            raise IngestError(f"unsupported file type: {what}")
    if head[8:12] in (b"WEBP", b"AVI ", b"WAVE") and head.startswith(b"RIFF"):
        raise IngestError("unsupported file type: RIFF media (image/audio/video)")
    if head[4:8] == b"ftyp":
        raise IngestError("unsupported file type: media (MP4/HEIC/MOV)")
    binary = _is_binary(head)
    if binary:
        for magic, what in _WEAK_BINARIES:
            if head.startswith(magic):
                raise IngestError(f"unsupported file type: {what}")
    if b"%PDF-" in head or name.endswith(".pdf"):
        return MEDIA_PDF  # header late or damaged: let the PDF parser give the precise reason
    if binary:
        raise IngestError("unsupported file type: binary data")
    return _text_type(filename)
