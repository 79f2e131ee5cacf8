"""Signed job callbacks.

When a job with a `callback_url` finishes, the service POSTs a JSON body to it with two headers:
`X-Longctx-Timestamp: <unix seconds>` and
`X-Longctx-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">`.
The HMAC key is per tenant: HMAC-SHA256(master, "webhook:" + tenant_id), where the master key is
`LONGCTX_WEBHOOK_SECRET` (set it in production so every replica agrees) or, in the embedded default, a random
key created once in the data dir. A tenant reads its key at `GET /v1/webhook-secret`.
Delivery is retried with exponential backoff on network errors, 408, 429 and 5xx answers.

Server-side request forgery guard: a callback may only reach public addresses. At submission the URL's host
is resolved and every address is checked (loopback, private, link-local, multicast, unspecified, reserved,
shared 100.64/10, site-local, and IPv6 forms embedding such IPv4 addresses are refused) unless
`LONGCTX_WEBHOOK_ALLOW` names the host or a network holding the address. At delivery the host is resolved and
checked again, and the request is sent to a checked address (Host header and TLS server name stay the URL's
host), so a later DNS answer cannot send it elsewhere. Redirects are not followed. A refused delivery is final
(`callback_status` "refused: ...").
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import logging
import os
import secrets
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any

from longctx.config import Settings, get_settings
from longctx.core.timestamps import iso

log = logging.getLogger(__name__)

TIMESTAMP_HEADER = "X-Longctx-Timestamp"
SIGNATURE_HEADER = "X-Longctx-Signature"
MAX_ATTEMPTS = 6
BACKOFF_BASE_S = 2.0
BACKOFF_MAX_S = 600.0
TIMEOUT_S = 10.0
RETRY_STATUSES = {408, 425, 429, 500, 502, 503, 504}
RESOLVE_TIMEOUT_S = 5.0

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# Not public although Python's tables (3.11) may call them global: NAT64 local-use, IPv4-compatible, discard.
_EXTRA_BLOCKED = tuple(ipaddress.ip_network(n) for n in ("64:ff9b:1::/48", "::/96", "100::/64"))
_SHARED_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class CallbackRefused(ValueError):
    """A callback URL the service will not call; the message is meant for the client, `short` for a status."""

    def __init__(self, message: str, short: str | None = None):
        super().__init__(message)
        self.short = short or message


class ResolveError(Exception):
    """The callback host could not be resolved (now): at delivery a retry may succeed."""


@dataclass(frozen=True)
class Target:
    """A callback URL whose host resolved to `addresses`, each of them checked (in connection order)."""

    url: str
    host: str  # ASCII (IDNA) host name or IP literal, as sent in Host and as TLS server name
    port: int
    addresses: tuple[IPAddress, ...]
    literal: bool  # the URL names an IP address, not a host name


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """IPv4 addresses an IPv6 address routes to (6to4, Teredo, NAT64 well-known prefix)."""
    out: list[ipaddress.IPv4Address] = []
    if ip.sixtofour is not None:
        out.append(ip.sixtofour)
    if ip.teredo is not None:
        out.extend(ip.teredo)
    if ip in _NAT64:
        out.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    return out


def non_public_kind(ip: IPAddress) -> str | None:
    """What kind of non-public address `ip` is ("loopback", "private", ...), or None for a public one."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return non_public_kind(ip.ipv4_mapped)
    if ip.is_unspecified:
        return "unspecified"
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link-local"
    if ip.is_multicast:
        return "multicast"
    if isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local:
        return "site-local"
    if ip in _SHARED_CGNAT:
        return "shared (CGNAT)"
    if ip.is_private:
        return "private"
    if ip.is_reserved or any(ip in net for net in _EXTRA_BLOCKED):
        return "reserved"
    if isinstance(ip, ipaddress.IPv6Address):
        for inner in _embedded_ipv4(ip):
            kind = non_public_kind(inner)
            if kind is not None:
                return f"{kind} (embedded IPv4)"
    if not ip.is_global:
        return "non-public"
    return None


def _allow_rules(settings: Settings) -> tuple[frozenset[str], tuple[IPNetwork, ...]]:
    hosts: set[str] = set()
    nets: list[IPNetwork] = []
    for entry in (settings.webhook_allow or "").split(","):
        entry = entry.strip()
        if not entry:
            continue
        try:
            nets.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
        except ValueError:
            hosts.add(entry.lower().rstrip("."))
    return frozenset(hosts), tuple(nets)


def _allowed(ip: IPAddress, nets: tuple[IPNetwork, ...]) -> bool:
    candidates: list[IPAddress] = [ip]
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        candidates.append(ip.ipv4_mapped)
    return any(c in net for c in candidates for net in nets)


_resolver_pool: ThreadPoolExecutor | None = None
_resolver_lock = threading.Lock()


def _resolve(host: str, port: int, timeout: float = RESOLVE_TIMEOUT_S) -> list[IPAddress]:
    """The addresses of `host` (getaddrinfo, `timeout` s at most); IPv4-mapped ones as IPv4, no repeats."""
    global _resolver_pool
    with _resolver_lock:
        if _resolver_pool is None:
            _resolver_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="webhook-dns")
    future = _resolver_pool.submit(socket.getaddrinfo, host, port, 0, socket.SOCK_STREAM)
    try:
        infos = future.result(timeout=timeout)
    except FutureTimeout:
        raise ResolveError(f"{host} did not resolve within {timeout:g} s") from None
    except (OSError, UnicodeError) as exc:
        raise ResolveError(f"{host} does not resolve") from exc
    out: list[IPAddress] = []
    for family, _type, _proto, _canon, sockaddr in infos:
        if family not in (socket.AF_INET, socket.AF_INET6):
            continue
        ip = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        if ip not in out:
            out.append(ip)
    if not out:
        raise ResolveError(f"{host} has no IP address")
    return out


def check_target(url: str, settings: Settings | None = None, *, resolve: bool = True) -> Target:
    """Resolve the URL's host and check every address; raises CallbackRefused or ResolveError.

    `resolve=False` checks the URL's form and a literal address only (no DNS: fit for the event loop)."""
    import httpx

    settings = settings or get_settings()
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, ValueError, TypeError):
        raise CallbackRefused("callback_url is not a valid URL") from None
    if parsed.scheme not in ("http", "https") or not parsed.raw_host:
        raise CallbackRefused("callback_url must be an absolute http(s) URL")
    host = parsed.raw_host.decode("ascii").lower().rstrip(".")
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    if not 0 < port < 65536:
        raise CallbackRefused("callback_url has an invalid port")
    allowed_hosts, allowed_nets = _allow_rules(settings)
    try:
        addresses = [ipaddress.ip_address(host)]
        literal = True
    except ValueError:
        literal = False
        if host == "localhost" or host.endswith(".localhost"):
            addresses = [ipaddress.ip_address("127.0.0.1")]  # RFC 6761: always loopback, never asked of DNS
        elif resolve:
            addresses = _resolve(host, port)
        else:
            return Target(url=url, host=host, port=port, addresses=(), literal=False)
    if isinstance(addresses[0], ipaddress.IPv6Address) and addresses[0].ipv4_mapped is not None:
        addresses = [addresses[0].ipv4_mapped]
    if host not in allowed_hosts:
        for ip in addresses:
            kind = non_public_kind(ip)
            if kind is not None and not _allowed(ip, allowed_nets):
                shown = host if literal else f"{host} ({ip})"
                raise CallbackRefused(
                    f"callback_url must target a public address: {shown} is {kind}",
                    short=f"{kind} address {ip}",
                )
    return Target(url=url, host=host, port=port, addresses=tuple(addresses), literal=literal)


def validate_callback_url(
    url: str | None, settings: Settings | None = None, *, resolve: bool = True
) -> str | None:
    """The submission check: an absolute http(s) URL whose host resolves to allowed addresses only.

    The request models call it with `resolve=False` (form and literal addresses, on the event loop); the
    routes call it again with `resolve=True` in their worker thread, so a slow resolver blocks no one."""
    if url is None or url == "":
        return None
    if len(url) > 2048:
        raise CallbackRefused("callback_url is longer than 2048 characters")
    try:
        check_target(url, settings, resolve=resolve)
    except ResolveError as exc:
        raise CallbackRefused(f"callback_url host cannot be resolved: {exc}") from None
    return url


def post_pinned(
    target: Target,
    content: bytes,
    headers: dict[str, str],
    timeout: float = TIMEOUT_S,
    verify: Any = True,
) -> Any:
    """POST to `target.url` connecting only to its checked addresses (the next one when a connection fails).

    The URL's host is replaced by the address, while the Host header and the TLS server name (SNI, and the
    name the certificate is verified against) stay the original host. No proxy from the environment, no
    redirects. Returns the httpx.Response; raises httpx.HTTPError.
    """
    import httpx

    url = httpx.URL(target.url)
    send_headers = {**headers, "Host": url.netloc.decode("ascii")}
    extensions = {} if target.literal else {"sni_hostname": target.host}
    last: httpx.HTTPError | None = None
    with httpx.Client(verify=verify, trust_env=False, follow_redirects=False, timeout=timeout) as client:
        for ip in target.addresses:
            try:
                return client.post(
                    url.copy_with(host=str(ip)), content=content, headers=send_headers, extensions=extensions
                )
            except httpx.ConnectError as exc:  # nothing was sent: another checked address may answer
                last = exc
    assert last is not None
    raise last


def _master_key(settings: Settings) -> bytes:
    if settings.webhook_secret:
        return settings.webhook_secret.encode("utf-8")
    path = settings.resolved_data_dir / "webhook-master.key"
    try:
        return path.read_bytes().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32).encode()
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(key)
    try:
        os.link(tmp, path)  # first writer wins; every process then reads the same key
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)
    return path.read_bytes().strip()


def tenant_secret(tenant_id: str, settings: Settings | None = None) -> str:
    settings = settings or get_settings()
    return hmac.new(_master_key(settings), f"webhook:{tenant_id}".encode(), hashlib.sha256).hexdigest()


def sign(secret: str, timestamp: str | int, body: bytes) -> str:
    mac = hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(
    secret: str,
    timestamp: str,
    body: bytes,
    signature: str,
    tolerance_s: float = 300.0,
    now: float | None = None,
) -> bool:
    """What a receiver does: recompute the signature (constant-time compare) and reject stale timestamps."""
    try:
        ts = int(timestamp)
    except (TypeError, ValueError):
        return False
    if abs((now if now is not None else time.time()) - ts) > tolerance_s:
        return False
    return hmac.compare_digest(sign(secret, ts, body), signature or "")


def backoff_s(attempt: int) -> float:
    return min(BACKOFF_MAX_S, BACKOFF_BASE_S * (2**attempt))


@dataclass(frozen=True)
class Delivery:
    ok: bool
    retry: bool
    status: str


def job_payload(job: Any, findings: int) -> dict[str, Any]:
    return {
        "event": "job.finished",
        "job_id": job.id,
        "status": job.status.value,
        "kind": job.kind.value,
        "batch_id": job.batch_id,
        "error": job.error,
        "findings": findings,
        "findings_url": f"/v1/jobs/{job.id}/findings",
        "finished_at": iso(job.finished_at),
    }


def _record(settings: Settings, job_id: str, status: str) -> None:
    from longctx.storage.models import Job
    from longctx.storage.session import session_scope

    with session_scope(settings) as s:
        job = s.get(Job, job_id)
        if job is not None:
            job.callback_status = status[:64]


def deliver(
    job_id: str, settings: Settings | None = None, attempt: int = 0, timeout: float = TIMEOUT_S
) -> Delivery:
    """POST the signed callback of a finished job once. `retry` says whether a later attempt may succeed."""
    import httpx
    from sqlalchemy import func, select

    from longctx.storage.models import Finding, Job
    from longctx.storage.session import session_scope

    settings = settings or get_settings()
    with session_scope(settings) as s:
        job = s.get(Job, job_id)
        if job is None or not job.callback_url:
            return Delivery(True, False, "no callback")
        count = s.scalar(select(func.count()).select_from(Finding).where(Finding.job_id == job_id)) or 0
        payload = job_payload(job, int(count))
        url, tenant_id = job.callback_url, job.tenant_id
    body = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode("utf-8")
    ts = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "longctx-webhook/1",
        TIMESTAMP_HEADER: ts,
        SIGNATURE_HEADER: sign(tenant_secret(tenant_id, settings), ts, body),
    }
    try:
        target = check_target(url, settings)  # again: DNS may answer differently now than at submission
    except CallbackRefused as exc:
        status = f"refused: {exc.short}"  # final, never retried; the job's own status is left alone
        _record(settings, job_id, status)
        log.warning("webhook of job %s to %s: %s", job_id, url, exc)
        return Delivery(False, False, status)
    except ResolveError:
        result = Delivery(False, True, "error unresolvable host")
    else:
        try:
            resp = post_pinned(target, body, headers, timeout=timeout)
        except httpx.HTTPError as exc:
            result = Delivery(False, True, f"error {type(exc).__name__}")
        else:
            if 200 <= resp.status_code < 300:
                result = Delivery(True, False, f"delivered {resp.status_code}")
            else:
                result = Delivery(False, resp.status_code in RETRY_STATUSES, f"http {resp.status_code}")
    final = result.ok or not result.retry or attempt + 1 >= MAX_ATTEMPTS
    if result.ok:
        status = result.status
    elif final:
        status = f"failed after {attempt + 1} attempts: {result.status}"
    else:
        status = f"retrying ({attempt + 1}): {result.status}"
    _record(settings, job_id, status)
    if not result.ok:
        log.warning("webhook of job %s to %s: %s", job_id, url, status)
    return Delivery(result.ok, result.retry and not final, status)
