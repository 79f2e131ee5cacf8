"""Signed job callbacks: a local HTTP receiver verifies the HMAC signature; failures retry with backoff."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.test_api import GOV_LAW, contract_pdf, upload


class Receiver:
    def __init__(self, statuses: list[int]):
        self.statuses = list(statuses)
        self.calls: list[tuple[dict[str, str], bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                receiver.calls.append(({k: v for k, v in self.headers.items()}, body))
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_args) -> None:  # noqa: ANN002
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *_exc) -> None:  # noqa: ANN002
        self.server.shutdown()
        self.server.server_close()


def test_sign_and_verify():
    from longctx.webhooks import sign, verify

    body = b'{"job_id":"j","status":"succeeded"}'
    ts = str(int(time.time()))
    sig = sign("k" * 64, ts, body)
    assert sig.startswith("sha256=") and len(sig) == 7 + 64
    assert verify("k" * 64, ts, body, sig)
    assert not verify("k" * 64, ts, body + b" ", sig)
    assert not verify("other", ts, body, sig)
    assert not verify("k" * 64, str(int(ts) - 3600), body, sign("k" * 64, str(int(ts) - 3600), body))


def test_callback_is_signed_and_retried(client, make_tenant, inline_queue, data_env, monkeypatch):  # noqa: ANN001
    from celery.exceptions import Retry

    from longctx.storage.models import Job
    from longctx.storage.session import session_scope
    from longctx.webhooks import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify
    from workers.tasks import run_webhook

    monkeypatch.setenv("LONGCTX_WEBHOOK_ALLOW", "127.0.0.1")  # the receiver is local (SSRF guard)
    tk = make_tenant("acme")
    secret = client.get("/v1/webhook-secret", headers=tk.headers).json()["secret"]
    doc = upload(client, tk, contract_pdf()).json()["id"]
    with Receiver([503, 200]) as rx:
        r = client.post(
            "/v1/questions",
            json={"document_ids": [doc], "questions": [GOV_LAW], "callback_url": rx.url},
            headers=tk.headers,
        )
        job_id = r.json()["job_id"]
        # the inline queue delivered once (503): a retry is due
        assert len(rx.calls) == 1
        with session_scope(data_env) as s:
            assert s.get(Job, job_id).callback_status.startswith("retrying (1): http 503")

        class FakeTask:
            class request:  # noqa: N801
                retries = 0

            def retry(self, countdown=None, max_retries=None):  # noqa: ANN001, ANN201
                self.countdown = countdown
                return Retry("again", when=countdown)

        task = FakeTask()
        rx.statuses = [500]
        with pytest.raises(Retry):
            run_webhook(task, job_id)
        assert task.countdown == 2.0  # backoff 2 s, 4 s, 8 s, ...
        task.request.retries = 2
        assert run_webhook(task, job_id) == "delivered 200"
    assert len(rx.calls) == 3
    for headers, body in rx.calls:
        assert verify(secret, headers[TIMESTAMP_HEADER], body, headers[SIGNATURE_HEADER])
    payload = json.loads(rx.calls[-1][1])
    assert payload["job_id"] == job_id and payload["status"] == "succeeded" and payload["findings"] > 0
    assert client.get(f"/v1/jobs/{job_id}", headers=tk.headers).json()["callback_status"] == "delivered 200"


def test_permanent_failure_is_not_retried(data_env, make_tenant, client, inline_queue, monkeypatch):  # noqa: ANN001
    from longctx.config import get_settings
    from longctx.webhooks import MAX_ATTEMPTS, deliver

    monkeypatch.setenv("LONGCTX_WEBHOOK_ALLOW", "127.0.0.1")  # the receiver is local (SSRF guard)
    tk = make_tenant("acme")
    doc = upload(client, tk, contract_pdf()).json()["id"]
    with Receiver([404, 500]) as rx:
        job_id = client.post(
            "/v1/questions",
            json={"document_ids": [doc], "questions": [GOV_LAW], "callback_url": rx.url},
            headers=tk.headers,
        ).json()["job_id"]
        status = client.get(f"/v1/jobs/{job_id}", headers=tk.headers).json()["callback_status"]
        assert status.startswith("failed after 1 attempts: http 404")
        # the last allowed attempt gets a 500
        last = deliver(job_id, get_settings(), attempt=MAX_ATTEMPTS - 1)
        assert not last.ok and not last.retry and last.status.startswith("failed after")
