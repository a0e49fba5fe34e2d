"""Login, logout, accepting an invite, choosing a language."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import Cookie
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.plugins.flash import flash
from litestar.plugins.htmx import ClientRedirect, HTMXRequest
from litestar.response import Redirect, Template

from domain.errors import ValidationFailed
from domain.services.auth import SignIn
from domain.services.staff import StaffAdmin
from domain.staff import LOCALES, Permission, StaffMember
from web.auth import CSRF_COOKIE, client_ip, end_session, member_of_session, start_session
from web.controllers.forms import Form, LocaleForm, LoginForm, PasswordForm
from web.i18n import LOCALE_COOKIE, locale_of, translate


def safe_next(target: str | None, default: str = "/admin") -> str:
    """Only local paths: a link must not be able to send the user to another site."""
    if target and target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return default


def home_of(member: StaffMember) -> str:
    """Where a login lands: the portal for a reseller, the admin for staff."""
    return "/portal" if member.can(Permission.USE_PORTAL) else "/admin"


def landing(member: StaffMember, target: str | None) -> str:
    """The page asked for, if it is in the member's own area; else its home."""
    home = home_of(member)
    wanted = safe_next(target, default=home)
    return wanted if wanted.startswith(home) else home


def go(request: Request[Any, Any, Any], target: str) -> Response[Any]:
    """Redirect that works for htmx (HX-Redirect) and for plain form posts (303)."""
    if request.headers.get("hx-request") == "true":
        return ClientRedirect(target)
    return Redirect(target, status_code=303)


def fresh_csrf(response: Response[Any]) -> Response[Any]:
    """A new CSRF token with every new session: a token planted before login is worth nothing after it."""
    response.delete_cookie(CSRF_COOKIE)
    return response


class AuthController(Controller):
    include_in_schema = False

    @get("/login", exclude_from_auth=True)
    async def login_page(
        self, request: Request[Any, Any, Any], sign_in: NamedDependency[SignIn], next: FromQuery[str | None] = None
    ) -> Response[Any]:
        if member := await member_of_session(request, sign_in):
            return Redirect(landing(member, next))
        return Template("auth/login.html", context={"next": safe_next(next)})

    @post("/login", exclude_from_auth=True, status_code=200)
    async def login(
        self, request: HTMXRequest, data: Form[LoginForm], sign_in: NamedDependency[SignIn]
    ) -> Response[Any]:
        member = await sign_in.log_in(data.username, data.password, client_ip(request))
        start_session(request, member)
        return fresh_csrf(go(request, landing(member, data.next)))

    @post("/logout", status_code=200)
    async def logout(self, request: HTMXRequest, sign_in: NamedDependency[SignIn]) -> Response[Any]:
        await sign_in.log_out(request.user, client_ip(request))
        end_session(request)
        return fresh_csrf(go(request, "/login"))

    @get("/invite/{token:str}", exclude_from_auth=True, name="invite_page")
    async def invite_page(self, token: FromPath[str], staff_admin: NamedDependency[StaffAdmin]) -> Template:
        member = await staff_admin.invitee(token)
        return Template("auth/invite.html", context={"member": member, "token": token})

    @post("/invite/{token:str}", exclude_from_auth=True, status_code=200)
    async def accept_invite(
        self,
        request: HTMXRequest,
        token: FromPath[str],
        data: Form[PasswordForm],
        staff_admin: NamedDependency[StaffAdmin],
    ) -> Response[Any]:
        if data.password != data.password_again:
            raise ValidationFailed({"password_again": "passwords_differ"})
        await staff_admin.accept_invite(token, data.password, client_ip(request))
        flash(request, translate(locale_of(request), "invite.accepted"), "success")
        return go(request, "/login")

    @post("/locale", exclude_from_auth=True, status_code=200)
    async def set_locale(
        self,
        request: Request[Any, Any, Any],
        data: Form[LocaleForm],
        sign_in: NamedDependency[SignIn],
        staff_admin: NamedDependency[StaffAdmin],
    ) -> Response[Any]:
        """Open to everyone (the login page has it too); a signed-in member also keeps it as a setting."""
        if data.locale not in LOCALES:
            raise ValidationFailed({"locale": "unsupported_locale"})
        member = await member_of_session(request, sign_in)
        if member is not None and member.id is not None:
            await staff_admin.set_locale(member.id, data.locale)
        response = go(request, safe_next(data.next, default="/"))
        response.set_cookie(Cookie(key=LOCALE_COOKIE, value=data.locale, max_age=365 * 86400, samesite="lax"))
        return response
