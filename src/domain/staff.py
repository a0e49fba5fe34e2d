"""Merchant staff: who they are, what their role lets them do, and how an account lives."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from domain.errors import DomainError, ValidationFailed


class Role(StrEnum):
    OWNER = "owner"
    OPERATOR = "operator"
    FINANCE = "finance"
    SUPPORT = "support"
    CLERK = "clerk"
    RESELLER = "reseller"  # a reseller's own login: its portal only, never the merchant's admin


# The roles of the merchant's own staff: the ones the staff pages hand out.
STAFF_ROLES = tuple(role for role in Role if role is not Role.RESELLER)


class Permission(StrEnum):
    USE_ADMIN = "use_admin"
    MANAGE_STAFF = "manage_staff"
    VIEW_AUDIT = "view_audit"
    VIEW_CATALOG = "view_catalog"
    MANAGE_CATALOG = "manage_catalog"
    MANAGE_CODES = "manage_codes"
    REVEAL_CODES = "reveal_codes"
    EXPORT_CODES = "export_codes"
    VIEW_ORDERS = "view_orders"
    MANAGE_ORDERS = "manage_orders"  # fulfil, cancel, resend
    PLACE_ORDERS = "place_orders"  # take an order for a buyer (by phone, chat) at the retail price
    REFUND_ORDERS = "refund_orders"
    VIEW_RESELLERS = "view_resellers"
    MANAGE_RESELLERS = "manage_resellers"  # create resellers, record top-ups, set their prices and terms
    VIEW_RISK = "view_risk"  # read the risk rules, lists and decision log
    MANAGE_RISK = "manage_risk"  # write risk rules and block/allow lists, try them in a dry run
    USE_PORTAL = "use_portal"  # a reseller's portal, for its own reseller


_EVERY_ROLE = frozenset({Permission.USE_ADMIN, Permission.VIEW_CATALOG, Permission.VIEW_ORDERS})
ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.OWNER: frozenset(Permission) - {Permission.USE_PORTAL},
    Role.OPERATOR: _EVERY_ROLE
    | {
        Permission.MANAGE_CATALOG,
        Permission.MANAGE_CODES,
        Permission.REVEAL_CODES,
        Permission.MANAGE_ORDERS,
        Permission.PLACE_ORDERS,
        Permission.VIEW_RESELLERS,
        Permission.VIEW_RISK,
        Permission.MANAGE_RISK,
    },
    Role.FINANCE: _EVERY_ROLE
    | {Permission.REFUND_ORDERS, Permission.VIEW_RESELLERS, Permission.MANAGE_RESELLERS, Permission.VIEW_RISK},
    Role.SUPPORT: _EVERY_ROLE | {Permission.MANAGE_ORDERS, Permission.VIEW_RESELLERS, Permission.VIEW_RISK},
    # Sales desk: takes orders by phone or chat. Support (after-sales) and finance (money) do not sell.
    Role.CLERK: _EVERY_ROLE | {Permission.PLACE_ORDERS},
    Role.RESELLER: frozenset({Permission.USE_PORTAL}),
}


class StaffStatus(StrEnum):
    INVITED = "invited"
    ACTIVE = "active"
    DISABLED = "disabled"


LOCALES = ("zh-CN", "en")
INVITE_TTL = timedelta(days=3)
PASSWORD_MIN, PASSWORD_MAX = 10, 128
_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{2,31}$")


class InvalidCredentials(DomainError):
    code = "invalid_credentials"


class WrongPassword(DomainError):
    """A signed-in member re-entered a wrong password to confirm something sensitive."""

    code = "wrong_password"


class LoginThrottled(DomainError):
    code = "login_throttled"

    def __init__(self, retry_after: timedelta) -> None:
        minutes = max(1, -(-int(retry_after.total_seconds()) // 60))
        super().__init__(f"too many failed logins; try again in {minutes} min", minutes=minutes)
        self.retry_after = retry_after


class UsernameTaken(ValidationFailed):
    def __init__(self, username: str) -> None:
        super().__init__({"username": "username_taken"})
        self.username = username


class LastOwner(DomainError):
    """The shop must always keep one active owner, or nobody could manage staff again."""

    code = "last_owner"


class NotYourself(DomainError):
    code = "cannot_change_own_account"


class InvalidInvite(DomainError):
    code = "invalid_invite"


def normalize_username(raw: str) -> str:
    return raw.strip().lower()


def could_be_username(text: str) -> bool:
    """Whether `text` is shaped like a username at all; anything else cannot name an account."""
    return _USERNAME.match(text) is not None


def validate_password(password: str, username: str) -> None:
    """Length over complexity rules (NIST 800-63B); and never the username itself."""
    if len(password) < PASSWORD_MIN:
        raise ValidationFailed({"password": "password_too_short"})
    if len(password) > PASSWORD_MAX:
        raise ValidationFailed({"password": "password_too_long"})
    if password.strip().lower() == username:
        raise ValidationFailed({"password": "password_is_username"})


def hash_token(token: str) -> str:
    """Invite tokens are stored hashed: a leaked database row cannot be used to take over an account."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class StaffMember:
    username: str
    display_name: str
    role: Role
    status: StaffStatus
    created_at: datetime
    password_hash: str | None = None
    locale: str | None = None
    # Bumped whenever existing sessions must end (disable, role or password change).
    auth_version: int = 1
    invite_token_hash: str | None = None
    invite_expires_at: datetime | None = None
    last_login_at: datetime | None = None
    reseller_id: int | None = None  # role reseller: whose portal this login opens
    id: int | None = None

    @classmethod
    def register(
        cls, username: str, display_name: str, role: Role | str, now: datetime, reseller_id: int | None = None
    ) -> StaffMember:
        """A new account, not yet able to log in: it gets a password or an invite next. A reseller's login
        names its reseller; a staff account never does."""
        username = normalize_username(username)
        display_name = display_name.strip() or username
        errors: dict[str, str] = {}
        if not _USERNAME.match(username):
            errors["username"] = "invalid_username"
        if len(display_name) > 64:
            errors["display_name"] = "too_long"
        try:
            role = Role(role)
        except ValueError:
            errors["role"] = "invalid_role"
        else:
            if (role is Role.RESELLER) != (reseller_id is not None):
                errors["role"] = "invalid_role"
        if errors:
            raise ValidationFailed(errors)
        return cls(username, display_name, Role(role), StaffStatus.INVITED, now, reseller_id=reseller_id)

    def can(self, permission: Permission) -> bool:
        return self.status is StaffStatus.ACTIVE and permission in ROLE_PERMISSIONS[self.role]

    @property
    def is_active_owner(self) -> bool:
        return self.status is StaffStatus.ACTIVE and self.role is Role.OWNER

    def with_password(self, password_hash: str) -> StaffMember:
        """Set (or reset) the password: activates an invited account and ends every other session."""
        return replace(
            self,
            password_hash=password_hash,
            status=StaffStatus.ACTIVE if self.status is StaffStatus.INVITED else self.status,
            invite_token_hash=None,
            invite_expires_at=None,
            auth_version=self.auth_version + 1,
        )

    def rehashed(self, password_hash: str) -> StaffMember:
        """Same password under new hashing parameters; sessions stay valid."""
        return replace(self, password_hash=password_hash)

    def invited(self, now: datetime) -> tuple[StaffMember, str]:
        """A fresh one-time invite; returns the token to hand to the invitee (only its hash is kept)."""
        if self.status is not StaffStatus.INVITED:
            raise InvalidInvite("only an account that has not set its password can be invited")
        token = secrets.token_urlsafe(32)
        return replace(self, invite_token_hash=hash_token(token), invite_expires_at=now + INVITE_TTL), token

    def check_invite(self, token: str, now: datetime) -> None:
        if (
            self.status is not StaffStatus.INVITED
            or self.invite_token_hash is None
            or self.invite_expires_at is None
            or not hmac.compare_digest(self.invite_token_hash, hash_token(token))
            or now >= self.invite_expires_at
        ):
            raise InvalidInvite("this invite link is invalid or has expired")

    def logged_in(self, now: datetime) -> StaffMember:
        return replace(self, last_login_at=now)

    def with_role(self, role: Role | str, active_owners: int) -> StaffMember:
        try:
            role = Role(role)
        except ValueError:
            raise ValidationFailed({"role": "invalid_role"}) from None
        if Role.RESELLER in (role, self.role) and role is not self.role:
            raise ValidationFailed({"role": "invalid_role"})  # a login is staff's or a reseller's for good
        if role is self.role:
            return self
        if self.is_active_owner and role is not Role.OWNER:
            _ensure_another_owner(active_owners)
        return replace(self, role=role, auth_version=self.auth_version + 1)

    def disabled(self, active_owners: int) -> StaffMember:
        """Ends every session, and any pending invite: enabling later needs a new invite link."""
        if self.is_active_owner:
            _ensure_another_owner(active_owners)
        return replace(
            self,
            status=StaffStatus.DISABLED,
            auth_version=self.auth_version + 1,
            invite_token_hash=None,
            invite_expires_at=None,
        )

    def enabled(self) -> StaffMember:
        if self.status is not StaffStatus.DISABLED:
            return self
        status = StaffStatus.ACTIVE if self.password_hash else StaffStatus.INVITED
        return replace(self, status=status)

    def with_locale(self, locale: str) -> StaffMember:
        if locale not in LOCALES:
            raise ValidationFailed({"locale": "unsupported_locale"})
        return replace(self, locale=locale)


def _ensure_another_owner(active_owners: int) -> None:
    if active_owners <= 1:
        raise LastOwner("the shop must keep at least one active owner")
