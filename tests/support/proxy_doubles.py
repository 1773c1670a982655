"""Issue #6's proxy doubles: AppAPI's stock (buffering) proxy and a HaRP-like streaming proxy, on loopback.

Both live on the Nextcloud double's server (``NextcloudDouble.add_routes``), so they share its origin: a browser
cookie set for one reaches the other, and ``nextcloud.url`` is the Nextcloud root for both.

What they reproduce, and where from (/work/shared/notes/nextcloud.md; app_api ``ExAppProxyController``,
``TopMenuController``, ``ExAppUiMiddleware``, ``ScriptsService``; server ``lib/private/Template/functions.php``):

* ``/index.php/apps/app_api/proxy/<appid>/<path>`` (``BufferingProxy``): the route check is AppAPI's, taken from
  ``assistant_stream.web.routes.ROUTES``: ``preg_match('/' . url . '/i', path)`` (an unescaped ``/`` in ``url`` ends the
  PHP pattern, so such a route never matches), the verb a case-insensitive *substring* of the route's verb list,
  and the access level (PUBLIC anyone, USER a logged-in user, ADMIN a member of "admin"). The proxy routes are
  ``#[PublicPage]``: a request without a session is simply a request without a user, so it fails the access check
  of a USER/ADMIN route and gets **404** (Nextcloud's HTML "not found" page) like a route the user may not use
  (AppAPI never answers 401 or 403 here). Only GET, POST, PUT and DELETE are routed: any other verb (PATCH) gets
  **405** with an empty text/html body from Nextcloud and never reaches the ExApp.
  The request is forwarded with the browser's headers (minus ``Host``, ``Content-Length``, ``X-Origin-IP`` and any
  ``AUTHORIZATION-APP-API``), ``X-Origin-IP`` and AppAPI's headers. The whole upstream body is read before the
  answer starts (Guzzle's CurlHandler, measured: SSE arrives in one piece at the end). AppAPI's headers are removed
  from the response, ``Transfer-Encoding`` dropped, and ``Cache-Control: private, max-age=3600, must-revalidate``
  added when the
  response set no Cache-Control and its Content-Type is not exactly ``application/json`` (or ``application/x-tar``)
  and the path does not end in ``.html``. ``delay`` adds a cost per request (measured: ~0.095 s with an app
  password). An upstream that cannot be reached gives 500, as ``requestToExApp2`` returning an error array does.
* ``/index.php/apps/app_api/embedded/<appid>/<name>`` (``BufferingProxy``): the top-menu page as Nextcloud renders
  it: ``<head data-requesttoken data-user>``, the registered initial states as
  ``<input type="hidden" id="initial-state-app_api-<key>" value="<base64 json>">`` where the JSON is a *string*
  holding the state's JSON (AppAPI hands the stored JSON text to provideInitialState, which encodes it again),
  ``<div id="content"></div>``,
  ``window._oc_webroot = ""`` and ``OC.config.modRewriteWorking = false`` (so @nextcloud/router's ``generateUrl``
  gives ``/index.php/apps/...``), the registered styles as
  ``<link rel="stylesheet" href="/index.php/apps/app_api/proxy/<appid>/<path>.css?v=...">`` and the registered
  scripts as ``<script nonce=".." defer src="/index.php/apps/app_api/proxy/<appid>/<path>.js?v=..."></script>``.
  AppAPI adds each script as ``Util::addScript('app_api', 'proxy_js/<i>')`` and rewrites the URL afterwards;
  Nextcloud emits ``type="module"`` only for ``.mjs`` files, so the bundle is loaded as a classic deferred script
  and must not be an ES module (tests/system/test_proxy_doubles.py checks the built bundle). Without a session the page
  redirects (303) to the login page, as the non-public controller does; an unknown menu entry or a disabled app
  gives 404.
* ``/exapps/<appid>/<path>`` (``HarpProxy``): HaRP's routing as far as the ExApp can tell: the same session cookie,
  the same routes (no route: 404; a route the user's level does not reach, including no session: 401, HaRP's
  "unauthorized"), the same AppAPI headers, and the response passed through chunk by chunk as it arrives.

* Nextcloud's own browser-facing OCS routes the app's pages and tests read: ``core/navigation/apps`` (the top-menu
  entries), ``settings/api/declarative/forms`` (every field's stored value, a sensitive one decrypted: the echo
  that made the key field write-only) and ``declarative/value[-sensitive]`` (the admin saving a field).

tests/nextcloud_real/test_doubles_agree.py runs the same checks against these doubles and the real Nextcloud.

Tests log a browser in with ``proxies.login("alice")`` (a cookie dict for httpx) and point the proxies at a running
app with ``proxies.upstream = app.url``; the app must use ``nextcloud.app_secret`` as its APP_SECRET (the
``proxied_app`` fixture does both).
"""

from __future__ import annotations

import asyncio
import base64
import html
import json
import mimetypes
import re
import secrets
import threading
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Route as StarletteRoute

from assistant_stream.web.routes import ROUTES, Access, Route
from tests.support.appserver import RunningApp
from tests.support.nextcloud_double import NextcloudDouble, fake_decrypt

SESSION_COOKIE = "nc_session_id"
AA_VERSION = "32.0.0"
APPAPI_HEADERS = ("aa-version", "ex-app-id", "ex-app-version", "authorization-app-api", "aa-request-id")
HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-connection", "te", "trailer", "upgrade",
                        "transfer-encoding"})
CACHE_FOR_AN_HOUR = "private, max-age=3600, must-revalidate"  # Nextcloud's Response::cacheFor(3600), measured
# AppAPI's proxy routes (appinfo/routes.php): any other verb is answered by Nextcloud itself, 405 with an empty
# text/html body, and never reaches the ExApp (measured on 32.0.2 and 33.0.3).
PROXY_VERBS = ("GET", "POST", "PUT", "DELETE")
HTML = "text/html; charset=UTF-8"
# Nextcloud's NotFoundResponse renders its 404 template (a whole HTML page) with this header.
NOT_FOUND_HEADERS = {"Cache-Control": "no-cache, no-store, must-revalidate"}
NOT_FOUND_PAGE = ('<!DOCTYPE html>\n<html class="ng-csp" lang="en"><head><title>Nextcloud</title></head>'
                  '<body id="body-login"><div class="body-login-container"><h2>Page not found</h2>'
                  '<p>The page could not be found on the server.</p></div></body></html>\n')
UPSTREAM_TIMEOUT = httpx.Timeout(120.0, connect=5.0)  # AppAPI sets no timeout at all (TIMEOUT => 0)


def not_found() -> Response:
    """Nextcloud's NotFoundResponse as AppAPI returns it for an unknown, disabled or forbidden route."""
    return HTMLResponse(NOT_FOUND_PAGE, status_code=404, headers=NOT_FOUND_HEADERS)


# --- AppAPI's route check ------------------------------------------------------------------------


def _ends_php_pattern(url: str) -> bool:
    """True when ``url`` holds an unescaped ``/``: inside ``'/' . url . '/i'`` it would end the pattern."""
    escaped = False
    for ch in url:
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == "/":
            return True
    return False


def php_preg_match(url: str, subject: str) -> bool:
    """``preg_match('/' . url . '/i', subject) === 1`` as closely as Python's re allows."""
    if _ends_php_pattern(url):
        return False  # PHP: "Unknown modifier", preg_match returns false
    try:
        return re.search(url, subject, re.IGNORECASE) is not None
    except re.error:
        return False


def verb_allowed(route: Route, method: str) -> bool:
    """``str_contains(strtolower($route['verb']), strtolower($method))``: a substring test, as AppAPI does it."""
    return method.lower() in ",".join(route.verbs).lower()


def find_route(path: str, method: str) -> Route | None:
    """The first route whose url and verb match (AppAPI also applies the access level in the same loop)."""
    for route in ROUTES:
        if php_preg_match(route.url, path) and verb_allowed(route, method):
            return route
    return None


def user_level(user: str | None, is_admin: bool) -> Access:
    if not user:
        return Access.PUBLIC
    return Access.ADMIN if is_admin else Access.USER


# --- the doubles -----------------------------------------------------------------------------------


@dataclass
class Forwarded:
    """One request a proxy passed on to the ExApp."""

    proxy: str  # "appapi" or "harp"
    method: str
    path: str  # with the leading "/"
    user: str
    started: float  # monotonic, when the proxy began forwarding
    headers: dict[str, str]  # what the ExApp was sent (lower-case names)
    query: str = ""  # the query string, without "?"


class ProxyDoubles:
    """Both proxies and the embedded page, installed once on the (session-wide) Nextcloud double."""

    def __init__(self, nextcloud: NextcloudDouble) -> None:
        self.nextcloud = nextcloud
        self.app_id = nextcloud.app_id
        self._lock = threading.Lock()
        # One upstream client per event loop (the double's server thread; a new one after down()/up()).
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx.AsyncClient] = (
            weakref.WeakKeyDictionary())
        self.reset()
        nextcloud.add_routes(self.routes())

    def reset(self) -> None:
        with self._lock:
            self.upstream: str | None = None  # the ExApp's base URL, e.g. RunningApp.url
            self.delay = 0.0  # seconds the stock proxy spends on every request before forwarding
            self.sessions: dict[str, str] = {}  # session cookie -> Nextcloud user
            self.requesttokens: dict[str, str] = {}  # session cookie -> CSRF token shown on pages
            self.forwarded: list[Forwarded] = []

    # --- what tests use ---

    @property
    def base_url(self) -> str:
        """The Nextcloud root (the same origin for both proxies)."""
        return self.nextcloud.url

    @property
    def proxy_path(self) -> str:
        return f"/index.php/apps/app_api/proxy/{self.app_id}"

    @property
    def harp_path(self) -> str:
        return f"/exapps/{self.app_id}"

    def embedded_path(self, name: str = "chat") -> str:
        return f"/index.php/apps/app_api/embedded/{self.app_id}/{name}"

    def login(self, user: str) -> dict[str, str]:
        """A browser session for ``user`` (added to Nextcloud if unknown): cookies for an httpx client."""
        with self.nextcloud.lock:
            self.nextcloud.users.setdefault(user, set())
        cookie = secrets.token_urlsafe(18)
        with self._lock:
            self.sessions[cookie] = user
            self.requesttokens[cookie] = secrets.token_urlsafe(24)
        return {SESSION_COOKIE: cookie}

    def logout(self, cookies: dict[str, str]) -> None:
        with self._lock:
            self.sessions.pop(cookies.get(SESSION_COOKIE, ""), None)

    def attach(self, app: RunningApp) -> None:
        """Proxy to ``app`` (which must use ``nextcloud.app_secret`` as APP_SECRET)."""
        if app.environ.get("APP_SECRET") != self.nextcloud.app_secret:
            raise ValueError("start the app with APP_SECRET=nextcloud.app_secret: AppAPI signs with the "
                             "secret the app was registered with")
        self.upstream = app.url

    def forwarded_to(self, path_part: str, proxy: str | None = None) -> list[Forwarded]:
        with self._lock:
            return [f for f in self.forwarded if path_part in f.path and (proxy is None or f.proxy == proxy)]

    # --- shared helpers ---

    def _user(self, request: Request) -> str | None:
        """The logged-in Nextcloud user of this browser request, or None (no, unknown or stale session)."""
        cookie = request.cookies.get(SESSION_COOKIE, "")
        with self._lock:
            user = self.sessions.get(cookie)
        with self.nextcloud.lock:
            if user is None or user not in self.nextcloud.users:
                return None
        return user

    def _is_admin(self, user: str | None) -> bool:
        with self.nextcloud.lock:
            return bool(user) and "admin" in self.nextcloud.users.get(user or "", set())

    def _appapi_headers(self, user: str) -> dict[str, str]:
        token = base64.b64encode(f"{user}:{self.nextcloud.app_secret}".encode()).decode()
        return {"AA-VERSION": AA_VERSION, "EX-APP-ID": self.app_id, "EX-APP-VERSION": self.nextcloud.app_version,
                "AUTHORIZATION-APP-API": token, "AA-REQUEST-ID": secrets.token_hex(10)}

    def _upstream_request(self, proxy: str, request: Request, path: str, user: str,
                          route: Route) -> tuple[str, dict[str, str]]:
        """(URL, headers) for the ExApp: the browser's headers as AppAPI's buildHeadersWithExclude leaves them."""
        if self.upstream is None:
            raise RuntimeError("proxies.upstream is not set: attach() a running app first")
        exclude = {h.lower() for h in route.headers_to_exclude} | {
            "host", "content-length", "x-origin-ip", *APPAPI_HEADERS, *HOP_BY_HOP}
        headers = {k: v for k, v in request.headers.items() if k.lower() not in exclude}
        headers["x-origin-ip"] = request.client.host if request.client else "127.0.0.1"
        headers.update(self._appapi_headers(user))
        query = request.url.query
        url = f"{self.upstream}/{path}" + (f"?{query}" if query else "")
        with self._lock:
            self.forwarded.append(Forwarded(proxy, request.method, "/" + path, user, time.monotonic(),
                                            {k.lower(): v for k, v in headers.items()}, query))
        return url, headers

    def _client(self) -> httpx.AsyncClient:
        """A pooled client: a fresh httpx client per request would cost ~0.17 s (CA bundle), skewing timings."""
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None or client.is_closed:
            # Plain HTTP on loopback only: verify=False just skips loading the CA bundle.
            client = httpx.AsyncClient(trust_env=False, verify=False, timeout=UPSTREAM_TIMEOUT)  # noqa: S501
            self._clients[loop] = client
        return client

    @staticmethod
    def _response_headers(upstream: httpx.Response, *, drop: frozenset[str] = frozenset()) -> dict[str, str]:
        """First value of every header (AppAPI: ``$value[0]``) minus AppAPI's own and hop-by-hop ones."""
        out: dict[str, str] = {}
        for key, value in upstream.headers.multi_items():
            low = key.lower()
            if low in APPAPI_HEADERS or low in HOP_BY_HOP or low in drop or low in out:
                continue
            out[low] = value
        return out

    # --- routes ---

    def routes(self) -> list[StarletteRoute]:
        verbs = ["GET", "POST", "PUT", "PATCH", "DELETE"]
        return [
            StarletteRoute(f"/index.php/apps/app_api/proxy/{self.app_id}/{{path:path}}", self._stock_proxy,
                           methods=verbs),
            StarletteRoute(f"/exapps/{self.app_id}/{{path:path}}", self._harp_proxy, methods=verbs),
            StarletteRoute(f"/index.php/apps/app_api/embedded/{self.app_id}/{{name}}", self._embedded_page,
                           methods=["GET"]),
            StarletteRoute("/ocs/v2.php/core/navigation/apps", self._navigation, methods=["GET"]),
            StarletteRoute("/ocs/v2.php/settings/api/declarative/forms", self._forms, methods=["GET"]),
            StarletteRoute("/ocs/v2.php/settings/api/declarative/value", self._form_value, methods=["POST"]),
            StarletteRoute("/ocs/v2.php/settings/api/declarative/value-sensitive", self._form_value,
                           methods=["POST"]),
        ]

    # --- what the browser reads from Nextcloud itself (OCS v2, session cookie) ---

    @staticmethod
    def _ocs(data: Any, status: int = 200) -> Response:
        meta = {"status": "ok" if status == 200 else "failure", "statuscode": status,
                "message": "OK" if status == 200 else ""}
        return JSONResponse({"ocs": {"meta": meta, "data": data}}, status_code=status)

    async def _navigation(self, request: Request) -> Response:
        """``core/navigation/apps``: the app's top-menu entries as LoadMenuEntriesListener adds them."""
        user = self._user(request)
        if user is None:
            return self._ocs([], 401)
        admin = self._is_admin(user)
        nc = self.nextcloud
        with nc.lock:
            entries = [] if not nc.enabled else [
                {"id": f"app_api_{self.app_id}_{name}", "type": "link", "app": "app_api",
                 "href": self.embedded_path(name), "icon": f"{self.proxy_path}/{entry['icon']}",
                 "name": entry["display_name"], "active": False, "unread": 0, "classes": "", "order": 100,
                 "default": False}
                for name, entry in nc.top_menu.items() if admin or not entry["admin_required"]]
        return self._ocs(entries)

    async def _forms(self, request: Request) -> Response:
        """``declarative/forms``: every field with its stored value, a sensitive one DECRYPTED (GetValueListener:
        it decrypts the stored text whatever the entry's flag; what does not decrypt reads as ""), else the
        field's default. Admin forms only for admins."""
        user = self._user(request)
        if user is None:
            return self._ocs(None, 401)
        if not self._is_admin(user):
            return self._ocs([])
        nc = self.nextcloud
        out = []
        with nc.lock:
            for form in nc.settings_forms.values():
                fields = []
                for fld in form.get("fields", []):
                    row = nc.appconfig_rows.get(fld["id"])
                    if row is not None:
                        value = str(row["value"])
                        if fld.get("sensitive") is True:
                            try:
                                value = fake_decrypt(value)
                            except (ValueError, UnicodeDecodeError):
                                value = ""
                    else:
                        default = fld.get("default", "")
                        value = json.dumps(default) if isinstance(default, (int, float, list)) else default
                    fields.append({**fld, "value": value})
                out.append({**form, "fields": fields, "app": self.app_id, "storage_type": "external"})
        return self._ocs(out)

    async def _form_value(self, request: Request) -> Response:
        """``declarative/value`` (and ``value-sensitive``): the admin saves one field (SetValueListener)."""
        user = self._user(request)
        if user is None:
            return self._ocs(None, 401)
        if not self._is_admin(user):
            return self._ocs(None, 403)
        body = await request.json()
        try:
            self.nextcloud.admin_saves_form(str(body["fieldId"]), str(body["value"]), str(body["formId"]))
        except KeyError:
            return self._ocs(None, 400)
        return self._ocs(None)

    # --- the stock AppAPI proxy: buffers ---

    async def _stock_proxy(self, request: Request) -> Response:
        if request.method not in PROXY_VERBS:
            return Response(b"", status_code=405, media_type=HTML)
        path = request.path_params["path"]
        user = self._user(request)
        route = find_route(path, request.method)
        with self.nextcloud.lock:
            enabled = self.nextcloud.enabled
        if not enabled or route is None or user_level(user, self._is_admin(user)) < route.access:
            return not_found()  # unknown, disabled or not allowed alike
        if self.delay:
            await asyncio.sleep(self.delay)
        url, headers = self._upstream_request("appapi", request, path, user or "", route)
        body = await request.body()
        try:
            # Read to the end before answering: what Guzzle's CurlHandler does under AppAPI.
            upstream = await self._client().request(request.method, url, headers=headers, content=body,
                                                     timeout=UPSTREAM_TIMEOUT)
        except httpx.HTTPError:
            return Response("", status_code=500)
        out = self._response_headers(upstream, drop=frozenset({"content-length", "content-encoding"}))
        is_html = path.lower().endswith(".html")
        if "content-type" not in out:
            guessed, _ = mimetypes.guess_type(path)
            if guessed and guessed != "application/octet-stream":
                out["content-type"] = guessed
        if ("cache-control" not in out and not is_html
                and upstream.headers.get("content-type") not in ("application/json", "application/x-tar")):
            out["cache-control"] = CACHE_FOR_AN_HOUR
        return Response(upstream.content, status_code=upstream.status_code, headers=out)

    # --- HaRP: streams ---

    async def _harp_proxy(self, request: Request) -> Response:
        path = request.path_params["path"]
        user = self._user(request)
        route = find_route(path, request.method)
        if route is None:
            return Response("", status_code=404)
        if user_level(user, self._is_admin(user)) < route.access:
            return Response("", status_code=401)
        url, headers = self._upstream_request("harp", request, path, user or "", route)
        body = await request.body()
        client = self._client()
        outgoing = client.build_request(request.method, url, headers=headers, content=body,
                                        timeout=httpx.Timeout(None, connect=5.0))
        try:
            upstream = await client.send(outgoing, stream=True)
        except httpx.HTTPError:
            return Response("", status_code=503)

        async def relay() -> AsyncIterator[bytes]:
            try:
                async for chunk in upstream.aiter_raw():
                    yield chunk  # as it arrives: no buffering
            finally:
                await upstream.aclose()

        return StreamingResponse(relay(), status_code=upstream.status_code, headers=self._response_headers(upstream))

    # --- the embedded top-menu page ---

    async def _embedded_page(self, request: Request) -> Response:
        name = request.path_params["name"]
        user = self._user(request)
        if user is None:
            target = request.url.path
            return RedirectResponse(f"/index.php/login?redirect_url={target}", status_code=303)
        nc = self.nextcloud
        with nc.lock:
            if not nc.enabled or name not in nc.top_menu:
                return not_found()
            states = {k[2]: v for k, v in nc.initial_states.items() if k[:2] == ("top_menu", name)}
            scripts = [k[2] for k in nc.scripts if k[:2] == ("top_menu", name)]
            styles = [k[2] for k in nc.styles if k[:2] == ("top_menu", name)]
        cookie = request.cookies.get(SESSION_COOKIE, "")
        with self._lock:
            token = self.requesttokens.get(cookie, "")
        nonce = secrets.token_urlsafe(12)
        version = secrets.token_hex(4)
        proxy = self.proxy_path
        lines = [
            "<!DOCTYPE html>",
            '<html class="ng-csp" data-placeholder-focus="false" lang="en" data-locale="en" translate="no">',
            f'<head data-user="{html.escape(user)}" data-user-displayname="{html.escape(user)}" '
            f'data-requesttoken="{html.escape(token)}">',
            '<meta charset="utf-8">',
            "<title>Chat - Nextcloud</title>",
            *(f'<link rel="stylesheet" href="{proxy}/{html.escape(path)}.css?v={version}">' for path in styles),
            f'<script nonce="{nonce}">window._oc_webroot = "";'
            f' window._oc_appswebroots = {{"app_api": "/apps/app_api"}};'
            f' window.OC = {{webroot: "", coreApps: ["", "core"],'
            f' config: {{modRewriteWorking: false, version: "32.0.1.1", versionstring: "32.0.1"}},'
            f' isUserAdmin: function () {{ return {json.dumps(self._is_admin(user))}; }}}};</script>',
            *(f'<script nonce="{nonce}" defer src="{proxy}/{html.escape(path)}.js?v={version}"></script>'
              for path in scripts),
            "</head>",
            '<body id="body-user">',
            *(f'<input type="hidden" id="initial-state-app_api-{html.escape(key)}" value="'
              f'{base64.b64encode(json.dumps(json.dumps(value)).encode()).decode()}">'
              for key, value in states.items()),
            '<div id="skip-actions"></div>',
            '<div id="content" class="app-app_api" role="main"></div>',
            "</body>",
            "</html>",
        ]
        return HTMLResponse("\n".join(lines) + "\n", headers={"Cache-Control": "no-cache, no-store, must-revalidate",
                                                              "Content-Security-Policy": embedded_csp(nonce, request)})


def embedded_csp(nonce: str, request: Request) -> str:
    """The Content-Security-Policy Nextcloud sends with the embedded page.

    AppAPI's TopMenuController builds a ``ContentSecurityPolicy`` and adds the server host, 'unsafe-eval' and
    'unsafe-inline' as script domains; ``EmptyContentSecurityPolicy::buildPolicy`` (Nextcloud 32 and 33) turns it
    into this: with a nonce, 'self' is dropped from script-src and 'unsafe-inline' is ignored by browsers, and
    ``script-src-elem`` gets 'strict-dynamic' (so a script added by a trusted script runs, a host list does not
    count). Styles, images, fonts and connections are 'self' (plus data: and blob: where Nextcloud allows them).
    """
    host = request.url.hostname or ""
    scripts = f"'nonce-{nonce}' {host} 'unsafe-eval' 'unsafe-inline'"
    return (f"default-src 'none';base-uri 'none';manifest-src 'self';script-src {scripts};"
            f"script-src-elem 'strict-dynamic' {scripts};style-src 'self' 'unsafe-inline';"
            f"img-src 'self' data: blob:;font-src 'self' data:;connect-src 'self';media-src 'self';"
            f"frame-src {host};frame-ancestors 'self';form-action 'self'")


# --- pytest fixtures -----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def proxy_doubles_server(nextcloud_server: NextcloudDouble) -> ProxyDoubles:
    """Installed once on the session's Nextcloud double (routes cannot be removed again)."""
    return ProxyDoubles(nextcloud_server)


@pytest.fixture
def proxies(proxy_doubles_server: ProxyDoubles, nextcloud: NextcloudDouble) -> Iterator[ProxyDoubles]:
    """Both proxies with fresh state (no sessions, no upstream, no delay), on the reset Nextcloud double."""
    proxy_doubles_server.reset()
    yield proxy_doubles_server
    proxy_doubles_server.reset()


ProxiedAppFactory = Callable[..., Awaitable[RunningApp]]


@pytest.fixture
def proxied_app(app_factory: Callable[..., Awaitable[RunningApp]], nextcloud: NextcloudDouble,
                proxies: ProxyDoubles) -> ProxiedAppFactory:
    """Start the app registered with the Nextcloud double (its URL and secret) and put it behind both proxies."""

    async def factory(**env: Any) -> RunningApp:
        app = await app_factory(nextcloud_url=nextcloud.url, APP_SECRET=nextcloud.app_secret, **env)
        proxies.attach(app)
        return app

    return factory


__all__ = ["SESSION_COOKIE", "Forwarded", "ProxiedAppFactory", "ProxyDoubles", "find_route", "php_preg_match",
           "proxied_app", "proxies", "proxy_doubles_server", "verb_allowed"]
