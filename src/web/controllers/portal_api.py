"""A reseller's Open API access, in its portal: keys made (their secrets shown this once) and revoked, and the
webhooks sent to its systems with every attempt, each one sent again on request. The API itself is web.api.

The services audit every change and answer NotFound (404) for another reseller's keys and messages.
"""

from __future__ import annotations

import json
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.plugins.flash import flash
from litestar.response import Template

from domain.paging import PageRequest
from domain.services.api_keys import ApiKeys
from domain.services.callbacks import Callbacks
from web.api.errors import API_PATH
from web.auth import actor, base_url
from web.controllers.auth import go
from web.controllers.forms import ApiKeyForm, Form
from web.controllers.params import PageNumber, RowId
from web.controllers.portal import PAGE_SIZE, PORTAL_GUARDS, reseller_of
from web.i18n import locale_of, translate

HERE = "/portal/api"


class PortalApiController(Controller):
    path = HERE
    include_in_schema = False
    guards = PORTAL_GUARDS

    @get("/")
    async def keys(self, request: Request[Any, Any, Any], api_keys: NamedDependency[ApiKeys]) -> Template:
        """The reseller's keys, revoked ones too (a request refused as revoked_api_key is explained here)."""
        context = {"keys": await api_keys.of_reseller(reseller_of(request)), "api_url": base_url(request) + API_PATH}
        return Template("portal/api.html", context=context)

    @post("/keys", status_code=200)
    async def create(
        self, request: Request[Any, Any, Any], data: Form[ApiKeyForm], api_keys: NamedDependency[ApiKeys]
    ) -> Template:
        """A new key. Its secrets are in this answer and nowhere else in plain text; the list comes up to date."""
        me = reseller_of(request)
        made = await api_keys.create(me, data.label, data.allowed_ips, actor(request))
        return Template("portal/_api_created.html", context={"made": made, "keys": await api_keys.of_reseller(me)})

    @post("/keys/{key_id:int}/revoke", status_code=200)
    async def revoke(
        self, request: Request[Any, Any, Any], key_id: RowId, api_keys: NamedDependency[ApiKeys]
    ) -> Template:
        key = await api_keys.revoke(reseller_of(request), key_id, actor(request))
        return Template("portal/_api_key.html", context={"key": key})

    @get("/webhooks")
    async def webhooks(
        self, request: Request[Any, Any, Any], callbacks: NamedDependency[Callbacks], page: PageNumber = 1
    ) -> Template:
        results = await callbacks.messages(reseller_of(request), PageRequest(page, PAGE_SIZE))
        return Template("portal/webhooks.html", context={"results": results})

    @get("/webhooks/{message_id:int}")
    async def webhook(
        self, request: Request[Any, Any, Any], message_id: RowId, callbacks: NamedDependency[Callbacks]
    ) -> Template:
        """One message: what was sent (its body, laid out to be read), and how each attempt went."""
        message, attempts = await callbacks.message(reseller_of(request), message_id)
        payload = json.dumps(message.payload, ensure_ascii=False, indent=2, sort_keys=True)
        return Template("portal/webhook.html", context={"message": message, "attempts": attempts, "payload": payload})

    @post("/webhooks/{message_id:int}/resend", status_code=200)
    async def resend(
        self, request: Request[Any, Any, Any], message_id: RowId, callbacks: NamedDependency[Callbacks]
    ) -> Response[Any]:
        """Queued at once, with the same webhook-id: a receiver that has it already can tell."""
        message = await callbacks.resend(reseller_of(request), message_id, actor(request))
        flash(request, translate(locale_of(request), "portal_api.resent", msg_id=message.msg_id), "success")
        return go(request, f"{HERE}/webhooks/{message_id}")
