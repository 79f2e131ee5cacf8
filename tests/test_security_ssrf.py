"""OWASP API7:2023 server-side request forgery: job callbacks may only reach public addresses.

Submission (REST) refuses internal targets with 422 and creates no job; delivery resolves and checks the host
again (DNS rebinding), connects to the checked address only (Host header and TLS name unchanged), does not
follow redirects, and ends a refused callback with "refused: ..." without a retry. `LONGCTX_WEBHOOK_ALLOW`
lets named hosts / networks through. No test here reaches the network: hosts under .test are answered by a
fake resolver, public addresses are literals and their jobs are never run.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.test_api import GOV_LAW, contract_pdf, count, upload

PUBLIC_IP = "93.184.216.34"

INTERNAL_URLS = [
    "http://127.0.0.1:9999/hook",
    "http://localhost:8080/hook",
    "http://sub.localhost/hook",
    "http://10.1.2.3/hook",
    "http://192.168.0.10/hook",
    "http://172.16.5.4/hook",
    "http://169.254.169.254/latest/meta-data/",
    "http://[::1]:8000/hook",
    "http://[::ffff:127.0.0.1]/hook",
    "http://[::ffff:169.254.169.254]/hook",
    "http://0.0.0.0:8000/hook",
    "http://[::]/hook",
    "http://2130706433/hook",  # 127.0.0.1 as one decimal number
    "http://0x7f.0.0.1/hook",
    "http://100.64.0.1/hook",
    "http://224.0.0.1/hook",
    "http://[fe80::1]/hook",
    "http://[fc00::1]/hook",
    "http://[fec0::1]/hook",
    "https://[2002:7f00:1::]/hook",  # 6to4 form of 127.0.0.1
]


class Receiver:
    """A local HTTP(S) server recording each POST (headers, body) and answering `status` (+ `location`)."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        status: int = 200,
        location: str = "",
        tls: tuple[str, str] | None = None,
    ):
        self.calls: list[dict[str, str]] = []
        self.server_names: list[str | None] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                receiver.calls.append(dict(self.headers.items()))
                self.send_response(status)
                if location:
                    self.send_header("Location", location)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_args) -> None:  # noqa: ANN002
                pass

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.port = self.server.server_address[1]
        if tls is not None:
            ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            ctx.load_cert_chain(*tls)
            ctx.sni_callback = lambda _sock, name, _ctx: self.server_names.append(name)  # type: ignore[assignment]
            self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *_exc) -> None:  # noqa: ANN002
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake_dns(monkeypatch):  # noqa: ANN001, ANN201
    """`fake_dns["name.test"] = ["1.2.3.4", ...]`: successive answers for a name (the last one repeats); any
    other name goes to the real resolver. `fake_dns.asked` counts the questions per name."""
    real = socket.getaddrinfo

    class Fake(dict):
        asked: dict[str, int] = {}

        def __call__(self, host, port, family=0, type=0, proto=0, flags=0):  # noqa: ANN001, ANN204, A002
            name = host.decode() if isinstance(host, bytes) else host
            if name not in self:
                return real(host, port, family, type, proto, flags)
            n = self.asked.get(name, 0)
            self.asked[name] = n + 1
            answers = self[name]
            if not answers:
                raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
            ip = ipaddress.ip_address(answers[min(n, len(answers) - 1)])
            fam = socket.AF_INET if ip.version == 4 else socket.AF_INET6
            sockaddr = (str(ip), int(port or 0)) if ip.version == 4 else (str(ip), int(port or 0), 0, 0)
            return [(fam, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", sockaddr)]

    fake = Fake()
    fake.asked = {}
    monkeypatch.setattr(socket, "getaddrinfo", fake)
    return fake


def _job_body(kind: str, doc: str, url: str) -> dict:
    if kind == "questions":
        return {"document_ids": [doc], "questions": [GOV_LAW], "callback_url": url}
    if kind == "extractions":
        return {"document_ids": [doc], "schema": "contract", "callback_url": url}
    return {"document_ids": [doc], "questions": [GOV_LAW], "callback_url": url}


# --- submission ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("url", INTERNAL_URLS)
def test_internal_callback_refused_at_submission(client, make_tenant, data_env, url):  # noqa: ANN001
    from longctx.storage.models import Job

    tk = make_tenant("acme")
    for path in ("questions", "extractions", "batches"):
        r = client.post(f"/v1/{path}", json=_job_body(path, "doc-x", url), headers=tk.headers)
        assert r.status_code == 422, (path, url, r.text)
        detail = r.json()["detail"]
        assert "callback_url" in detail and "public address" in detail, detail
        assert "Value error" not in detail and "/work" not in detail and "Traceback" not in detail
    assert count(data_env, Job) == 0


def test_unresolvable_host_refused_with_clear_message(client, make_tenant, data_env, fake_dns):  # noqa: ANN001
    from longctx.storage.models import Job

    fake_dns["nx.example.test"] = []
    tk = make_tenant("acme")
    r = client.post(
        "/v1/questions", json=_job_body("questions", "d", "https://nx.example.test/h"), headers=tk.headers
    )
    assert r.status_code == 422
    assert "callback_url host cannot be resolved" in r.json()["detail"]
    assert count(data_env, Job) == 0


def test_hostname_resolving_to_private_refused(client, make_tenant, fake_dns):  # noqa: ANN001
    fake_dns["intranet.example.test"] = ["10.0.0.5"]
    tk = make_tenant("acme")
    body = _job_body("questions", "d", "https://intranet.example.test/h")
    r = client.post("/v1/questions", json=body, headers=tk.headers)
    assert r.status_code == 422
    assert "intranet.example.test (10.0.0.5) is private" in r.json()["detail"]


def test_public_callback_accepted_allow_list_admits_local(
    client, make_tenant, data_env, inline_queue, monkeypatch
):  # noqa: ANN001
    from longctx.storage.models import Job

    tk = make_tenant("acme")
    doc = upload(client, tk, contract_pdf()).json()["id"]
    inline_queue.run = False  # accepted jobs are only queued: nothing here calls the public address
    for path in ("questions", "extractions", "batches"):
        r = client.post(
            f"/v1/{path}", json=_job_body(path, doc, f"https://{PUBLIC_IP}/hook"), headers=tk.headers
        )
        assert r.status_code == 202, r.text
    assert count(data_env, Job) == 3

    def submit(url: str) -> int:
        body = _job_body("questions", doc, url)
        return client.post("/v1/questions", json=body, headers=tk.headers).status_code

    local = "http://127.0.0.1:9999/hook"
    assert submit(local) == 422
    monkeypatch.setenv("LONGCTX_WEBHOOK_ALLOW", "hooks.internal, 127.0.0.0/8")
    assert submit(local) == 202
    assert submit("http://10.9.9.9/hook") == 422  # the allow-list admits what it names, nothing else


def test_address_classes_and_allow_list():
    from longctx.config import Settings
    from longctx.webhooks import CallbackRefused, check_target, non_public_kind

    def kind(a: str) -> str | None:
        return non_public_kind(ipaddress.ip_address(a))

    for a in (PUBLIC_IP, "8.8.8.8", "2001:4860:4860::8888", "::ffff:93.184.216.34"):
        assert kind(a) is None, a
    expected = {
        "127.0.0.1": "loopback",
        "::1": "loopback",
        "::ffff:127.0.0.1": "loopback",
        "0.0.0.0": "unspecified",
        "::": "unspecified",
        "169.254.169.254": "link-local",
        "fe80::1": "link-local",
        "224.0.0.1": "multicast",
        "ff02::1": "multicast",
        "10.0.0.1": "private",
        "172.31.255.255": "private",
        "192.168.1.1": "private",
        "fc00::1": "private",
        "100.64.0.1": "shared (CGNAT)",
        "fec0::1": "site-local",
        "240.0.0.1": "private",
        "::127.0.0.1": "reserved",
        "2002:a00:1::": "private (embedded IPv4)",
    }
    for a, k in expected.items():
        assert kind(a) == k, (a, kind(a))

    allow = Settings(webhook_allow="hooks.internal,10.0.0.0/8, ::1")
    assert check_target("http://10.2.3.4/x", allow).addresses == (ipaddress.ip_address("10.2.3.4"),)
    assert check_target("http://[::1]/x", allow)
    assert check_target("http://[::ffff:10.2.3.4]/x", allow)
    with pytest.raises(CallbackRefused):
        check_target("http://192.168.1.1/x", allow)
    for bad in ("ftp://example.com/x", "http:///x", "http://1.2.3.4:99999/x", "not a url"):
        with pytest.raises(CallbackRefused):
            check_target(bad, Settings())


# --- delivery -----------------------------------------------------------------------------------------------


def _ask(client, tk, doc: str, url: str) -> str:  # noqa: ANN001
    r = client.post("/v1/questions", json=_job_body("questions", doc, url), headers=tk.headers)
    assert r.status_code == 202, r.text
    return r.json()["job_id"]


def test_dns_rebinding_refused_at_delivery(client, make_tenant, data_env, inline_queue, fake_dns):  # noqa: ANN001
    from longctx.config import get_settings
    from longctx.webhooks import deliver

    tk = make_tenant("acme")
    doc = upload(client, tk, contract_pdf()).json()["id"]
    with Receiver() as rx:
        # submission sees a public address, delivery (the inline worker) sees the local receiver
        fake_dns["rebind.example.test"] = [PUBLIC_IP, "127.0.0.1"]
        job_id = _ask(client, tk, doc, f"http://rebind.example.test:{rx.port}/hook")
        job = client.get(f"/v1/jobs/{job_id}", headers=tk.headers).json()
        assert job["status"] == "succeeded"  # the job itself is untouched by its refused callback
        assert job["callback_status"] == "refused: loopback address 127.0.0.1"
        again = deliver(job_id, get_settings(), attempt=0)
        assert not again.ok and not again.retry and again.status.startswith("refused: ")
        assert rx.calls == []
    assert fake_dns.asked["rebind.example.test"] == 3  # submission + two delivery checks, nothing else


def test_delivery_connects_to_the_checked_address(
    client, make_tenant, data_env, inline_queue, fake_dns, monkeypatch
):  # noqa: ANN001
    monkeypatch.setenv("LONGCTX_WEBHOOK_ALLOW", "127.0.0.0/8")
    tk = make_tenant("acme")
    doc = upload(client, tk, contract_pdf()).json()["id"]
    with Receiver("127.0.0.1") as checked:
        try:
            other = Receiver("127.0.0.2", checked.port)
        except OSError:
            pytest.skip("127.0.0.2 cannot be bound here")
        with other:
            # the two checks (submission, delivery) get 127.0.0.1; any later lookup would get 127.0.0.2
            fake_dns["pinned.example.test"] = ["127.0.0.1", "127.0.0.1", "127.0.0.2"]
            job_id = _ask(client, tk, doc, f"http://pinned.example.test:{checked.port}/hook")
            status = client.get(f"/v1/jobs/{job_id}", headers=tk.headers).json()["callback_status"]
            assert status == "delivered 200"
            assert other.calls == []
            assert len(checked.calls) == 1
            assert checked.calls[0]["Host"] == f"pinned.example.test:{checked.port}"
            assert fake_dns.asked["pinned.example.test"] == 2


def test_redirect_is_not_followed(client, make_tenant, data_env, inline_queue, monkeypatch):  # noqa: ANN001
    monkeypatch.setenv("LONGCTX_WEBHOOK_ALLOW", "127.0.0.1")
    tk = make_tenant("acme")
    doc = upload(client, tk, contract_pdf()).json()["id"]
    with Receiver() as target, Receiver(status=302, location=f"http://127.0.0.1:{target.port}/x") as hop:
        job_id = _ask(client, tk, doc, f"http://127.0.0.1:{hop.port}/hook")
        status = client.get(f"/v1/jobs/{job_id}", headers=tk.headers).json()["callback_status"]
        assert status == "failed after 1 attempts: http 302"
        assert len(hop.calls) == 1 and target.calls == []


def _self_signed(tmp_path, name: str) -> tuple[str, str]:  # noqa: ANN001
    x509 = pytest.importorskip("cryptography.x509")
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    certfile, keyfile = tmp_path / f"{name}.pem", tmp_path / f"{name}.key"
    certfile.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    keyfile.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return str(certfile), str(keyfile)


def test_https_pinned_keeps_sni_and_certificate_check(tmp_path, fake_dns):  # noqa: ANN001
    import httpx

    from longctx.webhooks import Target, post_pinned

    fake_dns["tls.example.test"] = ["127.0.0.2"]  # a second answer must not matter: none is asked
    certfile, keyfile = _self_signed(tmp_path, "tls.example.test")
    trust = ssl.create_default_context(cafile=certfile)
    with Receiver(tls=(certfile, keyfile)) as rx:
        url = f"https://tls.example.test:{rx.port}/hook"
        target = Target(url, "tls.example.test", rx.port, (ipaddress.ip_address("127.0.0.1"),), literal=False)
        resp = post_pinned(target, b"{}", {"Content-Type": "application/json"}, timeout=5, verify=trust)
        assert resp.status_code == 200
        assert rx.server_names == ["tls.example.test"]  # SNI is the URL's host, not the pinned IP
        assert rx.calls[0]["Host"] == f"tls.example.test:{rx.port}"

        # the certificate is still checked against the URL's host: a pinned name it does not cover fails
        wrong = Target(
            f"https://other.example.test:{rx.port}/hook",
            "other.example.test",
            rx.port,
            (ipaddress.ip_address("127.0.0.1"),),
            literal=False,
        )
        with pytest.raises(httpx.ConnectError):
            post_pinned(wrong, b"{}", {}, timeout=5, verify=trust)
        assert len(rx.calls) == 1
    assert "tls.example.test" not in fake_dns.asked
