#!/usr/bin/python3
"""The Python client of the benchmark: N concurrent streamed Anthropic
calls with asyncio and aiohttp (Debian's python3-aiohttp), the way a user
would write them instead of using drove.

usage: client_aiohttp.py N BASE_URL CA_FILE

Prints each answer's text on a line of its own; exits 1 when a call failed.
The connector's limit is lifted (aiohttp holds 100 connections by default)
so that all N calls are in flight at once, like every other client's.
"""
import asyncio
import json
import ssl
import sys

import aiohttp


async def one(session, url):
    body = {"model": "claude-bench", "max_tokens": 1024, "stream": True,
            "messages": [{"role": "user", "content": "Say something."}]}
    hdrs = {"x-api-key": "sk-bench", "anthropic-version": "2023-06-01"}
    text = []
    async with session.post(url, json=body, headers=hdrs) as r:
        r.raise_for_status()
        async for line in r.content:
            if not line.startswith(b"data: "):
                continue
            d = json.loads(line[6:])
            if d.get("type") == "content_block_delta" and \
                    d["delta"].get("type") == "text_delta":
                text.append(d["delta"]["text"])
    return "".join(text)


async def main():
    n, base, ca = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    ctx = ssl.create_default_context(cafile=ca)
    conn = aiohttp.TCPConnector(limit=0, ssl=ctx)
    async with aiohttp.ClientSession(connector=conn) as s:
        texts = await asyncio.gather(*(one(s, base + "/v1/messages")
                                       for _ in range(n)))
    sys.stdout.write("\n".join(texts) + "\n")


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except (aiohttp.ClientError, OSError, ValueError) as e:
        sys.exit("client_aiohttp.py: %s" % e)
