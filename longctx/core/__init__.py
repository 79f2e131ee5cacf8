"""Core helpers below every other layer but config: timestamps and the Prometheus metric definitions.

Anything here may be imported from anywhere in the library; it imports nothing of longctx itself."""
