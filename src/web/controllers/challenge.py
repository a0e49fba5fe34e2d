"""/challenge: a fresh bot challenge (ALTCHA proof of work) for the widget in `_challenge.html`.

Public and rate limited per address by the app. The solution comes back as the form field `altcha`
(`CHALLENGE_FIELD`) of the form the widget sits in; the controller handling that form redeems it.
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import get
from litestar.params import Dependency
from litestar.response import Response

from domain.ports import BotChallenges

CHALLENGE_FIELD = "altcha"


@get("/challenge", exclude_from_auth=True, include_in_schema=False, sync_to_thread=False)
def challenge(
    # A port (a Protocol) is no runtime type to check the provided adapter against.
    challenges: Annotated[BotChallenges, Dependency(skip_validation=True)],
) -> Response[dict[str, Any]]:
    """Each fetch gets its own challenge: never cached, by the browser or anything in between."""
    return Response(challenges.issue(), headers={"cache-control": "no-store"})
