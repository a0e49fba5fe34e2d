"""The `kaquan` command as an operator scripts it: JSON out, errors on stderr with a non-zero status."""

from __future__ import annotations

import json
import re
import time

from tests.e2e.client import Browser
from tests.e2e.server import OWNER_PASSWORD, running_app


def test_products_and_a_code_import_from_the_command_line(app_server, tmp_path):
    made = app_server.kaquan(
        "--json", "product", "create", "cli-card", "--name", "CLI Card", "--face-value", "50", "--price", "47.5"
    )
    assert made.returncode == 0, made.stderr
    assert json.loads(made.stdout)["retail_price"] == "47.50"
    listed = json.loads(app_server.kaquan("--json", "product", "list", "--search", "cli-").stdout)
    assert [p["sku"] for p in listed["products"]] == ["CLI-CARD"]
    codes = tmp_path / "codes.txt"
    codes.write_text("CLI-1----PIN1\nCLI-2----PIN2\nCLI-1----again\n", encoding="utf-8")
    imported = app_server.kaquan(
        "--json", "codes", "import", str(codes), "--product", "cli-card", "--source", "cli", "--unit-cost", "40"
    )
    assert imported.returncode == 0, imported.stderr
    result = json.loads(imported.stdout)
    assert (result["status"], result["imported"], result["duplicates_in_file"]) == ("done", 2, 1)
    assert "CLI-1" not in imported.stdout + imported.stderr


def test_command_line_errors_go_to_stderr_with_a_non_zero_status(app_server, tmp_path):
    bad = app_server.kaquan("product", "create", "bad sku", "--name", "x", "--face-value", "1", "--price", "0")
    assert bad.returncode == 1 and "invalid input" in bad.stderr and "sku" in bad.stderr and bad.stdout == ""
    binary = tmp_path / "codes.txt"
    binary.write_bytes(b"\x00\x01\x02")
    app_server.kaquan("product", "create", "cli-bin", "--name", "x", "--face-value", "1", "--price", "1")
    failed = app_server.kaquan("codes", "import", str(binary), "--product", "cli-bin", "--source", "s")
    assert failed.returncode == 1 and "binary_file" in failed.stderr
    missing = app_server.kaquan("codes", "import", str(binary), "--product", "nope", "--source", "s")
    assert missing.returncode == 1 and "no product" in missing.stderr


def test_demo_data_stocks_the_catalog_once(app_server):
    first = app_server.kaquan("--json", "demo", "load")
    assert first.returncode == 0, first.stderr
    assert "demo codes for IQIYI-VIP-M" in first.stdout and "demo vouchers for LUCKIN-AMERICANO" in first.stdout
    again = app_server.kaquan("--json", "demo", "load")
    assert json.loads(again.stdout) == {"demo": []}


def test_after_a_key_rotation_and_a_restart_the_worker_reseals_in_the_background(tmp_path):
    codes = tmp_path / "codes.txt"
    codes.write_text("ROT-0001\nROT-0002\nROT-0003\n", encoding="utf-8")
    with running_app(tmp_path) as server:
        server.kaquan("product", "create", "ROT-CARD", "--name", "Rotate", "--face-value", "1", "--price", "1")
        assert server.kaquan("codes", "import", str(codes), "--product", "ROT-CARD", "--source", "s").returncode == 0
    rotated = server.kaquan("--json", "keys", "rotate")
    assert rotated.returncode == 0 and json.loads(rotated.stdout)["active"] == "k2"
    with running_app(tmp_path) as restarted:
        deadline = time.monotonic() + 30
        while json.loads(restarted.kaquan("--json", "keys", "status").stdout)["sealed_by_key"] != {"k2": 3}:
            assert time.monotonic() < deadline, "the workers did not re-seal the codes"
            time.sleep(0.5)


def test_resellers_are_created_and_topped_up_from_the_command_line(app_server):
    made = app_server.kaquan("--json", "reseller", "create", "CLI Reseller", "--contact", "r@example.com",
                             "--credit-limit", "20")  # fmt: skip
    assert made.returncode == 0, made.stderr
    reseller = json.loads(made.stdout)
    assert (reseller["depth"], reseller["credit_limit"]) == (1, "20.00")
    topped = app_server.kaquan("--json", "reseller", "topup", str(reseller["id"]), "88.8", "--note", "bank 2611")
    assert topped.returncode == 0, topped.stderr
    assert json.loads(topped.stdout)["balance"] == "88.80"
    refused = app_server.kaquan("reseller", "topup", str(reseller["id"]), "-5")
    assert refused.returncode != 0 and refused.stdout == ""


def test_a_reseller_is_created_with_a_tier_and_a_login_whose_invite_link_is_printed_once(app_server):
    owner = Browser(app_server.url)
    owner.login("owner", OWNER_PASSWORD)
    assert owner.post("/admin/tiers", {"name": "cli-gold"}, htmx=True).status_code == 200
    made = app_server.kaquan("--json", "reseller", "create", "CLI Gold", "--contact", "gold@example.com",
                             "--tier", "cli-gold", "--login", "cli-gold-shop")  # fmt: skip
    assert made.returncode == 0, made.stderr
    reseller = json.loads(made.stdout)
    assert reseller["invite"].startswith("/invite/")
    assert "cli-gold-shop" in Browser(app_server.url).get(reseller["invite"]).text
    assert '<dd id="tier">cli-gold</dd>' in owner.get(f"/admin/resellers/{reseller['id']}").text
    plain = app_server.kaquan("reseller", "create", "CLI Plain", "--contact", "p@example.com", "--login", "cli-plain")
    assert plain.returncode == 0 and re.search(
        r"invite link for cli-plain \(works once\): /invite/[\w-]+$", plain.stdout
    )
    unknown = app_server.kaquan("reseller", "create", "CLI Lost", "--contact", "lost@example.com", "--tier", "tin")
    assert unknown.returncode == 1 and "no tier named 'tin'" in unknown.stderr and unknown.stdout == ""
    taken = app_server.kaquan("reseller", "create", "CLI Again", "--contact", "a@example.com", "--login", "cli-plain")
    assert taken.returncode == 1 and "username" in taken.stderr
    listed = owner.get("/admin/resellers").text
    assert "CLI Lost" not in listed and "CLI Again" not in listed


def test_api_keys_are_made_listed_and_revoked_from_the_command_line(app_server):
    made = app_server.kaquan("--json", "reseller", "create", "CLI API", "--contact", "api@example.com")
    reseller = str(json.loads(made.stdout)["id"])
    created = app_server.kaquan("--json", "apikey", "create", "--reseller", reseller, "--label", "erp",
                                "--allow-ip", "203.0.113.7", "--allow-ip", "10.0.0.0/8")  # fmt: skip
    assert created.returncode == 0, created.stderr
    key = json.loads(created.stdout)
    assert re.fullmatch(r"kq_\w{16}", key["key_id"]) and key["status"] == "active"
    assert key["secret"].startswith("sk_") and key["webhook_secret"].startswith("whsec_")
    assert key["allowed_ips"] == ["203.0.113.7/32", "10.0.0.0/8"]
    plain = app_server.kaquan("apikey", "create", "--reseller", reseller)
    assert plain.returncode == 0 and "shown once" in plain.stdout
    second = re.search(r"key id:\s+(kq_\w+)", plain.stdout).group(1)
    assert re.search(r"secret:\s+sk_\S+", plain.stdout) and re.search(r"webhook secret:\s+whsec_\S+", plain.stdout)

    listed = app_server.kaquan("--json", "apikey", "list", "--reseller", reseller)
    keys = json.loads(listed.stdout)["keys"]
    assert [k["key_id"] for k in keys] == [second, key["key_id"]]
    assert key["secret"] not in listed.stdout and "secret" not in listed.stdout, "a list never shows secrets"
    by_key_id = app_server.kaquan("--json", "apikey", "revoke", "--reseller", reseller, key["key_id"])
    assert json.loads(by_key_id.stdout)["status"] == "revoked"
    by_number = app_server.kaquan("apikey", "revoke", "--reseller", reseller, str(keys[0]["id"]))
    assert by_number.returncode == 0 and f"revoked API key {second}" in by_number.stdout
    assert app_server.kaquan("apikey", "list", "--reseller", reseller).stdout.count("revoked") == 2

    for args, problem in (
        (("create", "--reseller", reseller, "--allow-ip", "10.0.0.0/33"), "allowed_ips (invalid_network)"),
        (("create", "--reseller", "999999"), "no reseller #999999"),
        (("list", "--reseller", "999999"), "no reseller #999999"),
        (("revoke", "--reseller", "999999", key["key_id"]), f"has no API key {key['key_id']}"),
        (("revoke", "--reseller", reseller, "kq_nosuchkey00000000"), "has no API key kq_nosuchkey00000000"),
    ):
        refused = app_server.kaquan("apikey", *args)
        assert refused.returncode == 1 and problem in refused.stderr and refused.stdout == "", (args, refused.stderr)


def test_an_upstream_inside_our_own_network_is_refused_on_the_command_line_and_in_the_admin(app_server):
    """This server does not allow private addresses (the default): an upstream there would make it call into its
    own network."""
    refused = app_server.kaquan(
        "upstream", "add", "inside", "--url", "http://127.0.0.1:6379", "--key-id", "kq_" + "A" * 16,
        KAQUAN_UPSTREAM_SECRET="sk_x",
    )  # fmt: skip
    assert refused.returncode == 1 and "base_url (private_address)" in refused.stderr and refused.stdout == ""
    owner = Browser(app_server.url, **{"Accept-Language": "en"})
    owner.login("owner", OWNER_PASSWORD)
    form = {"name": "inside", "base_url": "http://10.0.0.8", "key_id": "kq_" + "A" * 16, "secret": "sk_x"}
    shown = owner.post("/admin/suppliers", form | {"webhook_secret": ""}, htmx=True)
    assert "hx-redirect" not in shown.headers and "leads into a private network" in shown.text
    assert json.loads(app_server.kaquan("--json", "upstream", "list").stdout) == {"upstreams": []}
