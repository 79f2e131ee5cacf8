"""Streamlit web UI of longctx; talks to the REST API only (see webui/client.py)."""
