#!/usr/bin/env python3
"""Interop check: the official MCP Python SDK client (`mcp`, pinned in requirements.txt) against a gateway.

Run by `cargo xtask interop` as `target/interop/venv/bin/python interop/python/client.py` with
INTEROP_MCP_URL, INTEROP_USERNAME, INTEROP_PASSWORD, INTEROP_CLOCK_URL and INTEROP_ARTIFACTS set.
The client knows nothing about the gateway but its MCP URL: everything from the 401 onwards is the
SDK's own OAuth code (`mcp.client.auth.OAuthClientProvider` as an httpx2 auth), except the part a
person does in a browser, which the headless `redirect_handler` plays: it walks the authorize URL,
keeps cookies, fills the real login form it finds (parsed from the HTML, hidden fields kept) and
reads `code`, `state` and `iss` from the redirect to the redirect_uri.

Output: one line per step, `PASS <step>` or `FAIL <step>: <reason>`; on a failure the HTTP exchanges
of that step follow, secrets redacted. Exit status 0 iff every step passed.

Run 1: challenge, discovery, registration, authorize, token, initialize, tools/list, tools/call whoami.
Run 2 (refresh): the gateway clock is advanced 3601 s through INTEROP_CLOCK_URL, and so is the
client's (see ClientClock), then a NEW httpx2 client, transport and session start with the stored
tokens; the SDK must refresh (never re-authorize): refresh, initialize, tools/list, tools/call whoami.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import time
import traceback
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import anyio
import httpx2
import mcp.client.auth.oauth2 as sdk_oauth2
import mcp.shared.auth_utils as sdk_auth_utils
from mcp.client.auth import AuthorizationCodeResult, OAuthClientProvider
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import OAuthClientInformationFull, OAuthClientMetadata, OAuthMetadata, OAuthToken, ProtectedResourceMetadata
from pydantic import ValidationError

REDIRECT_URI = "http://127.0.0.1:8976/callback"  # never listened on: only the Location header is read
STEP_TIMEOUT = 60.0
CLOCK_ADVANCE = 3601

RUN1_STEPS = ["challenge", "discovery", "registration", "authorize", "token", "initialize", "tools/list", "tools/call whoami"]
RUN2_STEPS = ["refresh", "initialize", "tools/list", "tools/call whoami"]


# --------------------------------------------------------------------------------------------
# Redaction
# --------------------------------------------------------------------------------------------

SECRET_NAMES = ["code", "code_verifier", "access_token", "refresh_token", "password", "csrf_token", "client_secret"]
_NAMES = "|".join(SECRET_NAMES)
_REDACTIONS = [
    # name=value in URLs and form bodies (not code_challenge=, which is not `code=`)
    (re.compile(rf"(?<![A-Za-z0-9_])({_NAMES})=([^&\s\"'<>#]*)"), r"\1=<redacted>"),
    # "name": "value" in JSON
    (re.compile(rf'("(?:{_NAMES})"\s*:\s*)"(?:[^"\\]|\\.)*"'), r'\1"<redacted>"'),
    # <input name="name" ... value="value"> in HTML
    (re.compile(rf'(name="(?:{_NAMES})"[^>]*?value=")[^"]*(")'), r"\1<redacted>\2"),
    # anything that looks like a JWT, or a gateway key
    (re.compile(r"eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"), "<redacted-jwt>"),
    (re.compile(r"\b(bak|oag)_[A-Za-z0-9_-]+"), r"\1_<redacted>"),
]
SECRET_HEADERS = {"authorization", "cookie", "set-cookie", "proxy-authorization"}


def redact(text: str) -> str:
    for pattern, repl in _REDACTIONS:
        text = pattern.sub(repl, text)
    return text


def redact_header(name: str, value: str) -> str:
    lname = name.lower()
    if lname in ("authorization", "proxy-authorization"):
        scheme = value.split(" ", 1)[0] if " " in value else ""
        return f"{scheme} <redacted>".strip()
    if lname == "cookie":
        return "; ".join(f"{c.split('=', 1)[0].strip()}=<redacted>" for c in value.split(";") if c.strip())
    if lname == "set-cookie":
        first, _, attrs = value.partition(";")
        return f"{first.split('=', 1)[0]}=<redacted>;{attrs}" if attrs else f"{first.split('=', 1)[0]}=<redacted>"
    return redact(value)


# --------------------------------------------------------------------------------------------
# Recording HTTP exchanges (httpx2 event hooks; response bodies captured as they are read)
# --------------------------------------------------------------------------------------------

BODY_EXCERPT = 1500
REQUEST_HEADERS = ["content-type", "accept", "authorization", "cookie", "origin", "mcp-session-id", "mcp-protocol-version"]
RESPONSE_HEADERS = ["content-type", "location", "www-authenticate", "set-cookie", "mcp-session-id", "cache-control"]


@dataclass
class Exchange:
    step: str
    run: int
    method: str
    url: str
    request_headers: list[tuple[str, str]]
    request_body: bytes | None
    status: int | None = None
    reason: str = ""
    response_headers: list[tuple[str, str]] = field(default_factory=list)
    response_body: bytearray = field(default_factory=bytearray)
    body_complete: bool = False
    error: str | None = None

    def response_header(self, name: str) -> str | None:
        for k, v in self.response_headers:
            if k.lower() == name:
                return v
        return None

    def request_form(self) -> dict[str, str]:
        if not self.request_body:
            return {}
        try:
            return {k: v[0] for k, v in parse_qs(self.request_body.decode("utf-8", "replace")).items()}
        except Exception:
            return {}

    def json(self) -> Any:
        try:
            return json.loads(bytes(self.response_body).decode("utf-8"))
        except Exception:
            return None

    def render(self) -> str:
        out = [f"    > {self.method} {redact(self.url)}"]
        for k, v in self.request_headers:
            if k.lower() in REQUEST_HEADERS:
                out.append(f"    >   {k}: {redact_header(k, v)}")
        if self.request_body:
            out.append(f"    >   body: {excerpt(self.request_body)}")
        if self.error:
            out.append(f"    < (no response: {self.error})")
        elif self.status is None:
            out.append("    < (no response recorded)")
        else:
            out.append(f"    < {self.status} {self.reason}")
            for k, v in self.response_headers:
                if k.lower() in RESPONSE_HEADERS:
                    out.append(f"    <   {k}: {redact_header(k, v)}")
            if self.response_body:
                more = "" if self.body_complete else " (partial)"
                out.append(f"    <   body{more}: {excerpt(bytes(self.response_body))}")
        return "\n".join(out)


def excerpt(body: bytes) -> str:
    text = body.decode("utf-8", "replace")
    text = redact(text)
    text = re.sub(r"\s+", " ", text).strip()
    if len(text) > BODY_EXCERPT:
        text = text[:BODY_EXCERPT] + f"... ({len(body)} bytes)"
    return text


class TeeStream(httpx2.AsyncByteStream):
    """Passes a response body through, keeping the first bytes for the failure output."""

    def __init__(self, inner: Any, exchange: Exchange) -> None:
        self.inner = inner
        self.exchange = exchange

    async def __aiter__(self):
        async for chunk in self.inner:
            room = 64 * 1024 - len(self.exchange.response_body)
            if room > 0:
                self.exchange.response_body.extend(chunk[:room])
            yield chunk
        self.exchange.body_complete = True

    async def aclose(self) -> None:
        await self.inner.aclose()


class Recorder:
    """Tags every HTTP exchange with the step it belongs to and keeps it for the failure output."""

    STEP_ORDER = {s: i for i, s in enumerate(RUN1_STEPS)}

    def __init__(self, mcp_url: str) -> None:
        self.mcp_url = mcp_url
        self.exchanges: list[Exchange] = []
        self.pending: dict[int, Exchange] = {}
        self.run = 1
        self.mcp_step = "initialize"
        self.forced_step: str | None = None  # "authorize" while the redirect handler runs
        self.stage = "challenge"  # furthest step of run 1 reached so far
        self.token_issued = False
        self.refreshed = False

    # where the gateway's AS says its endpoints are (from the recorded metadata response)
    def as_metadata(self) -> dict[str, Any]:
        for ex in self.exchanges:
            if ex.status == 200 and ("oauth-authorization-server" in ex.url or "openid-configuration" in ex.url):
                data = ex.json()
                if isinstance(data, dict):
                    return data
        return {}

    def prm(self) -> dict[str, Any]:
        for ex in self.exchanges:
            if ex.status == 200 and "oauth-protected-resource" in ex.url:
                data = ex.json()
                if isinstance(data, dict):
                    return data
        return {}

    def advance(self, step: str) -> None:
        if self.run == 1 and self.STEP_ORDER.get(step, -1) > self.STEP_ORDER.get(self.stage, -1):
            self.stage = step

    def classify(self, request: httpx2.Request) -> str:
        if self.run == 2 and not self.refreshed:
            return "refresh"
        if self.forced_step:
            return self.forced_step
        url = str(request.url).split("?", 1)[0]
        body = request_body(request)
        if "/.well-known/" in url:
            return "discovery"
        if request.method == "POST" and url != self.mcp_url.split("?", 1)[0]:
            if b"grant_type=" in body:
                grant = parse_qs(body.decode("utf-8", "replace")).get("grant_type", [""])[0]
                return "refresh" if grant == "refresh_token" else "token"
            if b'"redirect_uris"' in body:
                return "registration"
        if url == self.mcp_url.split("?", 1)[0] and self.run == 1 and not self.token_issued:
            return "challenge"
        if b'"notifications/initialized"' in request_body(request):
            return "initialize"  # sent by initialize(), possibly after the next step began
        return self.mcp_step

    async def on_request(self, request: httpx2.Request) -> None:
        step = self.classify(request)
        self.advance(step)
        ex = Exchange(
            step=step,
            run=self.run,
            method=request.method,
            url=str(request.url),
            request_headers=list(request.headers.items()),
            request_body=request_body(request) or None,
        )
        self.exchanges.append(ex)
        self.pending[id(request)] = ex

    async def on_response(self, response: httpx2.Response) -> None:
        ex = self.pending.pop(id(response.request), None)
        if ex is None:
            return
        ex.status = response.status_code
        ex.reason = response.reason_phrase
        ex.response_headers = list(response.headers.items())
        response.stream = TeeStream(response.stream, ex)
        if ex.step == "token" and response.status_code == 200:
            self.token_issued = True
        if ex.step == "refresh" and ex.method == "POST" and response.status_code == 200:
            if ex.request_form().get("grant_type") == "refresh_token":
                self.refreshed = True

    def hooks(self) -> dict[str, list[Any]]:
        return {"request": [self.on_request], "response": [self.on_response]}

    def note_transport_error(self, exc: BaseException) -> None:
        for ex in self.pending.values():
            if ex.status is None and ex.error is None:
                ex.error = describe(exc)

    def of(self, step: str, run: int) -> list[Exchange]:
        return [ex for ex in self.exchanges if ex.step == step and ex.run == run]


def request_body(request: httpx2.Request) -> bytes:
    try:
        return request.content
    except Exception:
        return b""


# --------------------------------------------------------------------------------------------
# The SDK's pluggable parts: token storage, the headless browser, the callback
# --------------------------------------------------------------------------------------------


class MemoryTokenStorage:
    """mcp.client.auth.TokenStorage kept in memory for the two runs."""

    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.client_info: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client_info

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client_info = client_info


class StepError(Exception):
    """A check of ours failed; `step` names where."""

    def __init__(self, step: str, reason: str) -> None:
        super().__init__(reason)
        self.step = step
        self.reason = reason


@dataclass
class FormField:
    name: str
    type: str
    value: str
    checked: bool = False


@dataclass
class Form:
    action: str | None
    method: str
    fields: list[FormField] = field(default_factory=list)
    submits: list[FormField] = field(default_factory=list)


class FormParser(HTMLParser):
    """Collects the page's forms (inputs, submit buttons) and the text of error messages."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[Form] = []
        self.current: Form | None = None
        self.error_depth = 0
        self.errors: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k.lower(): (v if v is not None else "") for k, v in attrs}
        if tag == "form":
            self.current = Form(action=a.get("action"), method=(a.get("method") or "get").upper())
            self.forms.append(self.current)
        elif tag in ("input", "button") and self.current is not None and a.get("name") is not None:
            ftype = (a.get("type") or ("submit" if tag == "button" else "text")).lower()
            f = FormField(name=a["name"], type=ftype, value=a.get("value", ""), checked="checked" in a)
            (self.current.submits if ftype in ("submit", "image") else self.current.fields).append(f)
        if self.error_depth or "error" in a.get("class", "").split() or a.get("role") == "alert":
            self.error_depth += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.current = None
        if self.error_depth:
            self.error_depth -= 1

    def handle_data(self, data: str) -> None:
        if self.error_depth and data.strip():
            self.errors.append(data.strip())


class HeadlessBrowser:
    """Plays the person at the browser: the SDK's redirect_handler and callback_handler."""

    def __init__(self, recorder: Recorder, username: str, password: str) -> None:
        self.recorder = recorder
        self.username = username
        self.password = password
        self.result: AuthorizationCodeResult | None = None
        self.allowed = True  # False in the refresh run: the SDK must not start an authorization there
        self.authorize_calls = 0

    async def redirect_handler(self, authorization_url: str) -> None:
        self.authorize_calls += 1
        if not self.allowed:
            raise StepError("refresh", "the SDK started a new authorization instead of refreshing the token")
        self.recorder.forced_step = "authorize"
        self.recorder.advance("authorize")
        try:
            self.result = await self._walk(authorization_url)
        finally:
            self.recorder.forced_step = None

    async def callback_handler(self) -> AuthorizationCodeResult:
        if self.result is None:
            raise StepError("authorize", "no authorization response was received")
        result, self.result = self.result, None
        return result

    async def _walk(self, authorization_url: str) -> AuthorizationCodeResult:
        sent = parse_qs(urlsplit(authorization_url).query)
        sent_state = sent.get("state", [None])[0]
        gateway = origin(authorization_url)
        url, method, data = authorization_url, "GET", None
        submitted = 0
        async with httpx2.AsyncClient(follow_redirects=False, event_hooks=self.recorder.hooks(), timeout=30) as ua:
            for _hop in range(12):
                try:
                    resp = await ua.request(method, url, data=data)
                except httpx2.HTTPError as exc:
                    self.recorder.note_transport_error(exc)
                    raise StepError("authorize", f"{method} {redact(url)} failed: {exc}") from exc
                body = await resp.aread()
                location = resp.headers.get("location")
                if resp.is_redirect and location:
                    target = urljoin(url, location)
                    if target.split("?", 1)[0] == REDIRECT_URI:
                        return self._callback(target, sent_state)
                    if origin(target) != gateway:
                        raise StepError("authorize", f"redirected off the gateway to {redact(target)}")
                    url, method, data = target, "GET", None
                    continue
                page = FormParser()
                page.feed(body.decode("utf-8", "replace"))
                if submitted:
                    said = "; ".join(page.errors) or excerpt(body)[:200]
                    raise StepError("authorize", f"login not accepted (HTTP {resp.status_code} after submitting the form): {said}")
                if resp.status_code != 200:
                    raise StepError("authorize", f"HTTP {resp.status_code} at {redact(url)}: {excerpt(body)[:300]}")
                form = login_form(page.forms)
                if form is None:
                    raise StepError("authorize", f"no login form (with a password field) at {redact(url)}")
                url, method, data = urljoin(url, form.action or url), form.method, self._fill(form)
                if method != "POST":
                    raise StepError("authorize", f"the login form submits with {method}, not POST")
                submitted += 1
            raise StepError("authorize", "too many redirects before reaching the redirect_uri")

    def _fill(self, form: Form) -> dict[str, str]:
        data: dict[str, str] = {}
        user_filled = False
        for f in form.fields:
            if f.type == "password":
                data[f.name] = self.password
            elif f.type in ("text", "email") and not user_filled and re.search(r"user|login|email|name", f.name, re.I):
                data[f.name] = self.username
                user_filled = True
            elif f.type in ("checkbox", "radio"):
                if f.checked:
                    data[f.name] = f.value or "on"
            else:
                data[f.name] = f.value
        if form.submits:  # pressing Enter submits with the first submit button
            data[form.submits[0].name] = form.submits[0].value
        return data

    def _callback(self, target: str, sent_state: str | None) -> AuthorizationCodeResult:
        params = {k: v[0] for k, v in parse_qs(urlsplit(target).query).items()}
        if "error" in params:
            raise StepError("authorize", f"authorization error at the redirect_uri: {params.get('error')} {params.get('error_description', '')}".strip())
        if not params.get("code"):
            raise StepError("authorize", "the redirect to the redirect_uri carries no code")
        if params.get("state") != sent_state:
            raise StepError("authorize", f"state not echoed: sent {sent_state!r}, got {params.get('state')!r}")
        meta = self.recorder.as_metadata()
        issuer = meta.get("issuer")
        iss = params.get("iss")
        if iss is None and meta.get("authorization_response_iss_parameter_supported"):
            raise StepError("authorize", "no iss in the redirect although the metadata advertises authorization_response_iss_parameter_supported (RFC 9207)")
        if iss is not None and iss != issuer:
            raise StepError("authorize", f"iss {iss!r} in the redirect is not the metadata issuer {issuer!r} (RFC 9207)")
        return AuthorizationCodeResult(code=params["code"], state=params.get("state"), iss=iss)


def login_form(forms: list[Form]) -> Form | None:
    for f in forms:
        if any(x.type == "password" for x in f.fields):
            return f
    return None


def origin(url: str) -> tuple[str, str | None, int | None]:
    p = urlsplit(url)
    return (p.scheme, p.hostname, p.port or {"http": 80, "https": 443}.get(p.scheme))


# --------------------------------------------------------------------------------------------
# The client clock. The SDK judges expiry with time.time() against the expiry it computed when
# the token arrived (OAuthContext.token_expiry_time). When the test moves the gateway's clock an
# hour on, it moves the SDK's by the same amount, so the SDK sees what a client would see an
# hour later. Only the two SDK modules that read the clock for token expiry see the offset.
# --------------------------------------------------------------------------------------------


class ClientClock:
    def __init__(self) -> None:
        self.offset = 0.0

    def time(self) -> float:
        return time.time() + self.offset


CLIENT_CLOCK = ClientClock()
sdk_oauth2.time = CLIENT_CLOCK  # type: ignore[assignment]
sdk_auth_utils.time = CLIENT_CLOCK  # type: ignore[assignment]


class SdkLogCapture(logging.Handler):
    """Keeps the exceptions the SDK logs (the OAuth flow logs and re-raises; the transport logs some)."""

    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def last_error(self) -> str | None:
        for rec in reversed(self.records):
            if rec.exc_info and rec.exc_info[1] is not None:
                return describe(rec.exc_info[1])
        for rec in reversed(self.records):
            return rec.getMessage()
        return None


def describe(exc: BaseException) -> str:
    leaves = list(leaf_exceptions(exc))
    exc = next((e for e in leaves if isinstance(e, StepError)), leaves[0] if leaves else exc)
    if isinstance(exc, TimeoutError) and not str(exc):
        return f"no answer within {STEP_TIMEOUT:.0f} s"
    msg = str(exc) or repr(exc)
    return redact(f"{type(exc).__name__}: {msg}" if not isinstance(exc, StepError) else msg)


def leaf_exceptions(exc: BaseException):
    if isinstance(exc, BaseExceptionGroup):
        for e in exc.exceptions:
            yield from leaf_exceptions(e)
    else:
        yield exc


def find_step_error(exc: BaseException | None) -> StepError | None:
    seen: set[int] = set()
    stack = [exc] if exc is not None else []
    while stack:
        e = stack.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, StepError):
            return e
        if isinstance(e, BaseExceptionGroup):
            stack.extend(e.exceptions)
        stack.extend([e.__cause__, e.__context__])
    return None


# --------------------------------------------------------------------------------------------
# The runs
# --------------------------------------------------------------------------------------------


class Failed(Exception):
    pass


class Reporter:
    def __init__(self, recorder: Recorder, log: SdkLogCapture, artifacts: Path | None) -> None:
        self.recorder = recorder
        self.log = log
        self.artifacts = artifacts
        self.lines: list[str] = []

    def emit(self, line: str) -> None:
        print(line, flush=True)
        self.lines.append(line)

    def ok(self, step: str) -> None:
        self.emit(f"PASS {step}")

    def fail(self, step: str, run: int, reason: str) -> None:
        self.emit(f"FAIL {step}: {reason}")
        exchanges = self.recorder.of(step, run)
        if exchanges:
            self.emit(f"  HTTP exchanges of step {step}:")
            for ex in exchanges:
                self.emit(ex.render())
        else:
            last = [ex for ex in self.recorder.exchanges if ex.run == run][-3:]
            self.emit(f"  no HTTP exchange was recorded for step {step}" + ("; the last ones before it:" if last else ""))
            for ex in last:
                self.emit(f"  [{ex.step}]")
                self.emit(ex.render())
        raise Failed(step)


async def with_timeout(what: str, coro_fn, *args):
    with anyio.fail_after(STEP_TIMEOUT):
        return await coro_fn(*args)


def whoami_names(result: Any, username: str) -> tuple[bool, str]:
    texts = []
    for c in getattr(result, "content", None) or []:
        t = getattr(c, "text", None)
        if t:
            texts.append(t)
    structured = getattr(result, "structured_content", None) or getattr(result, "structuredContent", None)
    blob = " ".join(texts) + (json.dumps(structured) if structured else "")
    if getattr(result, "is_error", False) or getattr(result, "isError", False):
        return False, f"the tool returned an error: {blob[:300]}"
    if re.search(rf"\b{re.escape(username)}\b", blob):
        return True, ""
    return False, f"the result does not name {username}: {blob[:300]!r}"


async def mcp_steps(rep: Reporter, session: ClientSession, run: int, username: str) -> None:
    rec = rep.recorder
    rec.mcp_step = "tools/list"
    try:
        tools = await with_timeout("tools/list", session.list_tools)
    except Exception as exc:
        rep.fail("tools/list", run, describe(exc))
    names = [t.name for t in tools.tools]
    if "whoami" not in names:
        rep.fail("tools/list", run, f"no whoami tool in {names}")
    rep.ok("tools/list")
    rec.mcp_step = "tools/call whoami"
    try:
        result = await with_timeout("tools/call whoami", session.call_tool, "whoami", {})
    except Exception as exc:
        rep.fail("tools/call whoami", run, describe(exc))
    good, why = whoami_names(result, username)
    if not good:
        rep.fail("tools/call whoami", run, why)
    rep.ok("tools/call whoami")
    rec.mcp_step = "close"


def invalid_reason(doc: dict[str, Any], model: Any) -> str:
    """Why the SDK's own model refuses a recorded metadata document, if it does."""
    if not doc:
        return " (none was fetched with 200 and a JSON object)"
    try:
        model.model_validate(doc)
    except ValidationError as exc:
        errs = "; ".join(f"{'.'.join(str(x) for x in e['loc'])}: {e['msg']}" for e in exc.errors()[:3])
        return f" (the document fails the SDK's {model.__name__}: {errs})"
    return ""


def check_auth_steps(rep: Reporter, error: BaseException | None, browser: HeadlessBrowser, provider: OAuthClientProvider) -> None:
    """Judges challenge → token from what was recorded; the first failing step is reported."""
    rec = rep.recorder
    step_error = find_step_error(error)
    err_text = error_text(rep, error) if error is not None else None
    fail_stage = step_error.step if step_error else rec.stage

    def failing(step: str, check: str | None) -> None:
        if check:
            rep.fail(step, 1, check + (f" ({err_text})" if err_text and fail_stage == step and err_text not in check else ""))
        if error is not None and fail_stage == step:
            rep.fail(step, 1, err_text or "failed")
        rep.ok(step)

    # challenge
    ch = rec.of("challenge", 1)
    first = ch[0] if ch else None
    check = None
    if first is None:
        check = "no MCP request was sent"
    elif first.status is None:
        check = f"the first MCP request got no response: {first.error}"
    elif first.status != 401:
        check = f"the first MCP request (no token) got HTTP {first.status}, not 401"
    elif "resource_metadata" not in (first.response_header("www-authenticate") or ""):
        check = f"401 without resource_metadata in WWW-Authenticate: {first.response_header('www-authenticate')!r}"
    failing("challenge", check)

    # discovery: what the SDK itself accepted (its OAuth context), explained from what was fetched
    check = None
    ctx = provider.context
    if ctx.protected_resource_metadata is None:
        check = "the SDK accepted no protected resource metadata" + invalid_reason(rec.prm(), ProtectedResourceMetadata)
    elif ctx.oauth_metadata is None:
        check = "the SDK accepted no authorization server metadata" + invalid_reason(rec.as_metadata(), OAuthMetadata)
    failing("discovery", check)

    # registration
    reg = [ex for ex in rec.of("registration", 1) if ex.method == "POST"]
    check = None
    if not reg:
        check = "no registration request was sent"
    elif reg[-1].status not in (200, 201):
        check = f"registration answered HTTP {reg[-1].status}"
    elif not isinstance(reg[-1].json(), dict) or "client_id" not in reg[-1].json():
        check = "the registration response has no client_id"
    failing("registration", check)

    # authorize
    check = None
    if browser.authorize_calls == 0:
        check = "the SDK never called the redirect handler"
    failing("authorize", check)

    # token
    tok = [ex for ex in rec.of("token", 1) if ex.method == "POST"]
    check = None
    if not tok:
        check = "no token request was sent"
    elif tok[-1].status != 200:
        check = f"the token endpoint answered HTTP {tok[-1].status}"
    else:
        body = tok[-1].json() or {}
        if not body.get("access_token"):
            check = "the token response has no access_token"
        elif str(body.get("token_type", "")).lower() != "bearer":
            check = f"token_type is {body.get('token_type')!r}, not Bearer"
    failing("token", check)


def new_provider(env: dict[str, str], storage: MemoryTokenStorage, browser: HeadlessBrowser) -> OAuthClientProvider:
    return OAuthClientProvider(
        server_url=env["INTEROP_MCP_URL"],
        client_metadata=OAuthClientMetadata(
            client_name="interop python sdk client",
            redirect_uris=[REDIRECT_URI],
            grant_types=["authorization_code", "refresh_token"],
            response_types=["code"],
            token_endpoint_auth_method="none",
        ),
        storage=storage,
        redirect_handler=browser.redirect_handler,
        callback_handler=browser.callback_handler,
    )


async def session_run(rep: Reporter, env: dict[str, str], provider: OAuthClientProvider, run: int, judge_auth) -> None:
    """A new httpx2 client, Streamable HTTP transport and ClientSession: initialize (during which the
    SDK's OAuth runs), tools/list, tools/call whoami. `judge_auth(error)` reports the steps the SDK's
    OAuth went through (and raises Failed at the first failing one)."""
    rec = rep.recorder
    rec.run, rec.mcp_step = run, "initialize"
    judged = False

    def judge(error: BaseException | None) -> None:
        nonlocal judged
        judged = True
        judge_auth(error)
        if error is not None:
            rep.fail("initialize", run, error_text(rep, error))

    try:
        async with httpx2.AsyncClient(auth=provider, event_hooks=rec.hooks(), timeout=httpx2.Timeout(30, read=60)) as http:
            async with streamable_http_client(env["INTEROP_MCP_URL"], http_client=http) as (read, write):
                async with ClientSession(read, write, read_timeout_seconds=STEP_TIMEOUT) as session:
                    error: BaseException | None = None
                    try:
                        await with_timeout("initialize", session.initialize)
                    except Exception as exc:
                        error = exc
                    judge(error)
                    rep.ok("initialize")
                    await mcp_steps(rep, session, run, env["INTEROP_USERNAME"])
    except Exception as exc:
        # An OAuth failure inside the SDK ends the transport's task group, not the initialize() call.
        if any(isinstance(e, Failed) for e in leaf_exceptions(exc)):
            raise Failed() from None
        rec.note_transport_error(exc)
        if not judged:
            judge(exc)
        rep.fail(rec.mcp_step, run, error_text(rep, exc))


def error_text(rep: Reporter, error: BaseException) -> str:
    step_error = find_step_error(error)
    if step_error:
        return step_error.reason
    return rep.log.last_error() or describe(error)


async def run1(rep: Reporter, env: dict[str, str], storage: MemoryTokenStorage, browser: HeadlessBrowser) -> OAuthClientProvider:
    provider = new_provider(env, storage, browser)
    await session_run(rep, env, provider, 1, lambda error: check_auth_steps(rep, error, browser, provider))
    return provider


async def run2(rep: Reporter, env: dict[str, str], provider: OAuthClientProvider, storage: MemoryTokenStorage, browser: HeadlessBrowser) -> None:
    rec = rep.recorder
    rec.run, rec.mcp_step = 2, "initialize"
    browser.allowed = False
    old = storage.tokens
    if old is None or not old.refresh_token:
        rep.fail("refresh", 2, "the token response of the first run carried no refresh_token")

    # an hour later, for the gateway and for the client
    async with httpx2.AsyncClient(event_hooks=rec.hooks(), timeout=30) as plain:
        try:
            r = await plain.post(env["INTEROP_CLOCK_URL"], json={"advance_seconds": CLOCK_ADVANCE})
            await r.aread()
        except httpx2.HTTPError as exc:
            rec.note_transport_error(exc)
            rep.fail("refresh", 2, f"could not advance the gateway clock at {env['INTEROP_CLOCK_URL']}: {exc}")
        if r.status_code // 100 != 2:
            rep.fail("refresh", 2, f"advancing the gateway clock answered HTTP {r.status_code}")
        CLIENT_CLOCK.offset += CLOCK_ADVANCE
        # the old access token must now be expired at the gateway, or this run proves nothing
        try:
            probe = await plain.post(
                env["INTEROP_MCP_URL"],
                headers={"authorization": f"Bearer {old.access_token}", "accept": "application/json, text/event-stream"},
                json={"jsonrpc": "2.0", "id": 0, "method": "ping"},
            )
            await probe.aread()
        except httpx2.HTTPError as exc:
            rec.note_transport_error(exc)
            rep.fail("refresh", 2, f"the MCP endpoint did not answer after the clock moved: {exc}")
        if probe.status_code != 401:
            rep.fail("refresh", 2, f"after advancing the clock {CLOCK_ADVANCE} s the old access token still gets HTTP {probe.status_code}, not 401")

    def judge_refresh(error: BaseException | None) -> None:
        step_error = find_step_error(error)
        err_text = f" ({error_text(rep, error)})" if error is not None else ""
        if step_error and step_error.step == "refresh":
            rep.fail("refresh", 2, step_error.reason)
        refreshes = [ex for ex in rec.of("refresh", 2) if ex.method == "POST" and ex.request_form().get("grant_type") == "refresh_token"]
        if not refreshes:
            rep.fail("refresh", 2, "the SDK sent no refresh_token grant" + err_text)
        if refreshes[-1].status != 200:
            rep.fail("refresh", 2, f"the refresh_token grant answered HTTP {refreshes[-1].status}" + err_text)
        body = refreshes[-1].json() or {}
        if not body.get("access_token") or body.get("access_token") == old.access_token:
            rep.fail("refresh", 2, "the refresh response carries no new access_token")
        if storage.tokens is None or storage.tokens.access_token != body.get("access_token"):
            rep.fail("refresh", 2, "the SDK did not store the refreshed token" + err_text)
        rep.ok("refresh")

    # a new httpx2 client, transport and session, with the stored tokens
    await session_run(rep, env, provider, 2, judge_refresh)


async def main() -> int:
    env = {}
    for name in ["INTEROP_MCP_URL", "INTEROP_USERNAME", "INTEROP_PASSWORD", "INTEROP_CLOCK_URL"]:
        value = os.environ.get(name)
        if not value:
            print(f"FAIL setup: {name} is not set", flush=True)
            return 2
        env[name] = value
    artifacts = Path(os.environ["INTEROP_ARTIFACTS"]) if os.environ.get("INTEROP_ARTIFACTS") else None

    log = SdkLogCapture()
    sdk_logger = logging.getLogger("mcp")
    sdk_logger.addHandler(log)
    sdk_logger.setLevel(logging.WARNING)
    sdk_logger.propagate = False

    rec = Recorder(env["INTEROP_MCP_URL"])
    rep = Reporter(rec, log, artifacts)
    storage = MemoryTokenStorage()
    browser = HeadlessBrowser(rec, env["INTEROP_USERNAME"], env["INTEROP_PASSWORD"])
    started = time.monotonic()
    code = 0
    try:
        provider = await run1(rep, env, storage, browser)
        await run2(rep, env, provider, storage, browser)
    except Failed:
        code = 1
    except Exception as exc:  # a bug here or an SDK failure outside any step
        step_error = find_step_error(exc)
        rep.emit(f"FAIL {step_error.step if step_error else 'client'}: {describe(exc)}")
        rep.emit(redact("".join(traceback.format_exception(exc))))
        code = 1
    if artifacts is not None:
        try:
            artifacts.mkdir(parents=True, exist_ok=True)
            with open(artifacts / "python-client.log", "w") as f:
                f.write("\n".join(rep.lines) + "\n\nAll HTTP exchanges (secrets redacted):\n")
                for ex in rec.exchanges:
                    f.write(f"[run {ex.run}] [{ex.step}]\n{ex.render()}\n")
                f.write(f"\nelapsed {time.monotonic() - started:.2f} s, exit {code}\n")
        except OSError as exc:
            print(f"(could not write artifacts: {exc})", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(anyio.run(main))
