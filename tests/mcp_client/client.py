"""A real MCP client (the official Python SDK) against a running Affilia.

Starts nothing itself: run.sh starts the server and passes the URL and credentials.
Connects over streamable HTTP with a vendor API key, lists the tools, calls programs_list
and payout_run (a dry run); connects again with a read-only key and checks that the write
tools are not offered and that confirming a payout run is refused with the API's
`forbidden` code; then with an affiliate token, which sees only the self-service tools
and fetches its own link and balance. Exits non-zero on any mismatch.
"""

import asyncio
import os
import sys

import httpx2 as httpx  # the SDK's own HTTP client
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

URL = os.environ["AFFILIA_MCP_URL"]
FULL_KEY = os.environ["AFFILIA_FULL_KEY"]
READ_KEY = os.environ["AFFILIA_READ_KEY"]
AFFILIATE_TOKEN = os.environ["AFFILIA_AFFILIATE_TOKEN"]


def check(cond, what):
    if not cond:
        print(f"FAIL: {what}", file=sys.stderr)
        sys.exit(1)
    print(f"ok: {what}")


def transport(key):
    http = httpx.AsyncClient(headers={"Authorization": f"Bearer {key}"}, timeout=30)
    return streamable_http_client(URL, http_client=http)


async def main():
    async with Client(transport(FULL_KEY)) as client:
        check(client.server_info is not None and client.server_info.name == "affilia", "initialize names the server")
        tools = await client.list_tools()
        names = {t.name for t in tools.tools}
        for expected in ["programs_list", "programs_create", "payout_run", "application_review", "analytics_get"]:
            check(expected in names, f"tools/list offers {expected}")
        check(not any(n.startswith("my_") for n in names), "no self-service tools for an API key")
        listed = {t.name: t for t in tools.tools}
        check(listed["programs_list"].annotations.read_only_hint is True, "programs_list is annotated read-only")

        programs = await client.call_tool("programs_list", {})
        check(not programs.is_error, "programs_list succeeds")
        data = programs.structured_content["data"]
        check(len(data) == 1 and data[0]["is_default"], "one default program")

        run = await client.call_tool("payout_run", {})
        check(not run.is_error, "payout_run succeeds")
        check(run.structured_content["dry_run"] is True, "payout_run is a dry run by default")
        check("dry run" in run.content[0].text, "the summary says dry run")

        missing = await client.call_tool("programs_get", {"program_id": "prg_nope"})
        check(missing.is_error and missing.structured_content["error"]["code"] == "not_found",
              "an unknown program is a not_found tool error")

    async with Client(transport(READ_KEY)) as client:
        tools = await client.list_tools()
        names = {t.name for t in tools.tools}
        check("programs_list" in names and "programs_create" not in names, "a read key sees only read tools")
        confirmed = await client.call_tool("payout_run", {"confirm": True})
        check(confirmed.is_error and confirmed.structured_content["error"]["code"] == "forbidden",
              "a read key cannot confirm a payout run")

    async with Client(transport(AFFILIATE_TOKEN)) as client:
        tools = await client.list_tools()
        names = {t.name for t in tools.tools}
        check(names == {"my_programs_list", "my_referral_get", "my_stats_get", "my_balance_get",
                        "my_payouts_list", "my_link_create", "my_deal_register"},
              "an affiliate token sees only the self-service tools")
        link = await client.call_tool("my_referral_get", {})
        check(not link.is_error and link.structured_content["referral_url"].endswith("/r/jane"),
              "the affiliate fetches its own referral link")
        balance = await client.call_tool("my_balance_get", {})
        check(not balance.is_error and balance.structured_content["data"] == [],
              "the affiliate fetches its own (empty) balance")
        peer = await client.call_tool("my_balance_get", {"affiliate_id": "aff_someone_else"})
        check(peer.is_error and peer.structured_content["error"]["code"] == "bad_request",
              "no tool takes another affiliate's id")

    print("MCP client: 3 sessions, tools listed and called")


asyncio.run(main())
