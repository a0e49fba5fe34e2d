"""Form bodies, parsed from urlencoded posts. Validation itself is the domain's job."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, TypeVar

from litestar.enums import RequestEncodingType
from litestar.params import Body

T = TypeVar("T")
Form = Annotated[T, Body(media_type=RequestEncodingType.URL_ENCODED)]


@dataclass
class LoginForm:
    username: str = ""
    password: str = ""
    next: str = ""


@dataclass
class InviteForm:
    username: str = ""
    display_name: str = ""
    role: str = ""


@dataclass
class RoleForm:
    role: str = ""


@dataclass
class PasswordForm:
    password: str = ""
    password_again: str = ""


@dataclass
class LocaleForm:
    locale: str = ""
    next: str = "/"
