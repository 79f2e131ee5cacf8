"""Analysis engine: the reader interface, extraction schemas and the lexical baseline reader."""

from .reader import Answer, Query, Reader, ReaderDocument, get_reader
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
