"""Analysis engine: the reader interface, extraction schemas and the lexical baseline reader."""

from .factory import get_reader
from .reader import Answer, Query, Reader, ReaderDocument
from .schemas import SCHEMAS, load_schema, schema_fields

__all__ = [
    "Answer",
    "Query",
    "Reader",
    "ReaderDocument",
    "SCHEMAS",
    "get_reader",
    "load_schema",
    "schema_fields",
]
