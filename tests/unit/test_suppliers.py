"""An upstream's address and credentials are checked before anything is stored or called."""

from __future__ import annotations

import pytest

from domain.errors import ValidationFailed
from domain.suppliers import Upstream

KEY = "kq_" + "A" * 16


def test_a_plain_web_address_is_kept_without_its_trailing_slash():
    assert Upstream.check(" Alpha ", "https://up.example.com/", KEY, "sk_x") == ("Alpha", "https://up.example.com")


@pytest.mark.parametrize(
    "url",
    [
        "ftp://up.example.com",
        "https://",
        "https://up.example.com/?a=1",
        "https://user:secret@up.example.com",  # credentials would be stored, and logged, in plain text
        "https://up.example.com/" + "x" * 260,
    ],
)
def test_other_addresses_are_refused(url):
    with pytest.raises(ValidationFailed) as caught:
        Upstream.check("alpha", url, KEY, "sk_x")
    assert caught.value.errors == {"base_url": "invalid_url"}
