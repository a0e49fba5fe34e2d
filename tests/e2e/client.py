"""A browser-like HTTP client: keeps cookies, reads the CSRF token from the page, posts forms."""

from __future__ import annotations

import re
from typing import Any

import httpx

TOKEN = re.compile(r'name="_csrf_token" value="([^"]+)"')


class Browser:
    def __init__(self, base_url: str, **headers: str) -> None:
        self.http = httpx.Client(base_url=base_url, headers=headers, follow_redirects=False, timeout=10)
        self.csrf = ""

    def request(
        self, method: str, path: str, *, headers: dict[str, str] | None = None, **kwargs: Any
    ) -> httpx.Response:
        # Sends every cookie it holds, Secure ones too: browsers treat 127.0.0.1 as a secure context, httpx does not.
        cookie = "; ".join(f"{c.name}={c.value}" for c in self.http.cookies.jar)
        headers = {**(headers or {}), **({"Cookie": cookie} if cookie else {})}
        return self.http.request(method, path, headers=headers, **kwargs)

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        response = self.request("GET", path, **kwargs)
        if found := TOKEN.search(response.text):
            self.csrf = found.group(1)
        return response

    def post(self, path: str, data: dict[str, str] | None = None, *, htmx: bool = False) -> httpx.Response:
        """Like a form post (token in the body), or like htmx (token in the header)."""
        if not self.csrf:
            self.get("/login")
        if htmx:
            return self.request("POST", path, data=data or {}, headers={"HX-Request": "true", "x-csrftoken": self.csrf})
        return self.request("POST", path, data={**(data or {}), "_csrf_token": self.csrf})

    def login(self, username: str, password: str, *, htmx: bool = False) -> httpx.Response:
        """Sign in as the login page does, then land where a browser would (which brings a fresh CSRF token)."""
        self.get("/login")
        response = self.post("/login", {"username": username, "password": password, "next": "/admin"}, htmx=htmx)
        target = response.headers.get("location") or response.headers.get("hx-redirect")
        if target:
            self.get(target)
        return response

    @property
    def session(self) -> str | None:
        return next((c.value for c in self.http.cookies.jar if c.name == "kaquan_session"), None)
