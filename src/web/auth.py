"""Staff sessions: server-side, a fresh id at every login, ended as soon as the account changes."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from litestar.connection import ASGIConnection
from litestar.exceptions import PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware.session.server_side import ServerSideSessionBackend, ServerSideSessionConfig
from litestar.types import Empty, Guard, Message, ScopeSession

from domain.audit import Actor
from domain.risk import counted_ip
from domain.services.auth import SignIn
from domain.staff import Permission, StaffMember

CSRF_COOKIE = "kaquan_csrf"
_ROTATE = "kaquan.rotate_session"
_NEW_ID = "kaquan.new_session_id"


class RotatingSessionBackend(ServerSideSessionBackend):
    """Issues a new session id when a handler asks (login), so an id planted before login is worthless."""

    async def store_in_message(
        self, scope_session: ScopeSession, message: Message, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> None:
        state = connection.scope.setdefault("state", {})  # type: ignore[typeddict-item]
        if not scope_session and not state.get(_ROTATE):
            # Nothing to keep: anonymous requests must not create a stored session each (a cheap way to fill
            # the store); a session emptied by its request is deleted.
            if connection.cookies.get(self.config.key) not in (None, "null"):
                await super().store_in_message(Empty, message, connection)
            return
        if state.pop(_ROTATE, False):
            old_id = connection.cookies.get(self.config.key)
            if old_id and old_id != "null":
                await self.delete(old_id, store=self.config.get_store_from_app(connection.scope["app"]))
            state[_NEW_ID] = self.generate_session_id()
        await super().store_in_message(scope_session, message, connection)

    def get_session_id(self, connection: ASGIConnection[Any, Any, Any, Any]) -> str:
        return connection.scope.get("state", {}).get(_NEW_ID) or super().get_session_id(connection)


@dataclass
class RotatingSessionConfig(ServerSideSessionConfig):
    _backend_class = RotatingSessionBackend


def start_session(connection: ASGIConnection[Any, Any, Any, Any], member: StaffMember) -> None:
    """Replace whatever session the browser had with a new one for `member`."""
    connection.scope.setdefault("state", {})[_ROTATE] = True  # type: ignore[typeddict-item]
    connection.set_session({"staff_id": member.id, "auth_version": member.auth_version, "issued_at": int(time.time())})


def end_session(connection: ASGIConnection[Any, Any, Any, Any]) -> None:
    connection.clear_session()


def requires(permission: Permission) -> Guard:
    def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        user = connection.scope.get("user")
        if not isinstance(user, StaffMember) or not user.can(permission):
            raise PermissionDeniedException(f"requires {permission}")

    return guard


def actor(connection: ASGIConnection[Any, Any, Any, Any]) -> Actor:
    """The signed-in staff member as the audit log names them."""
    member: StaffMember = connection.user
    return Actor.staff(member.id, member.username, client_ip(connection))


def client_ip(connection: ASGIConnection[Any, Any, Any, Any]) -> str:
    # uvicorn's proxy_headers has already applied X-Forwarded-For from trusted proxies.
    return connection.client.host if connection.client else "unknown"


def client_network(connection: ASGIConnection[Any, Any, Any, Any]) -> str:
    """Who a per-address rate limit counts: the client's address, an IPv6 one by its /64, as the risk rules count
    (a script rotating through its own network's addresses is one client)."""
    return counted_ip(client_ip(connection))


SESSION_MAX_AGE = "session_max_age"  # app state: seconds a session lives, however busy it is
PUBLIC_URL = "public_url"  # app state: the shop's public address for links, when configured


def base_url(connection: ASGIConnection[Any, Any, Any, Any]) -> str:
    """The address for links leaving this app: the configured public URL, else this request's."""
    return (connection.app.state[PUBLIC_URL] or str(connection.base_url)).rstrip("/")


async def member_of_session(connection: ASGIConnection[Any, Any, Any, Any], sign_in: SignIn) -> StaffMember | None:
    """The live account behind a session; None once the account changed or the session is too old.

    The age is counted from login: using a session (even the 1-second import poll) never extends it.
    """
    session = connection.scope.get("session") or {}
    try:
        staff_id, version, issued = int(session["staff_id"]), int(session["auth_version"]), int(session["issued_at"])
    except (KeyError, TypeError, ValueError):
        return None
    if time.time() - issued > connection.app.state[SESSION_MAX_AGE]:
        return None
    return await sign_in.session_member(staff_id, version)
