"""A polite async client for the API: on 503 it waits ``Retry-After`` (plus jitter, so
rejected clients do not all come back at once) and tries again, until a deadline."""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass

import httpx


@dataclass
class Outcome:
    status: int  # the final status (0: transport error or deadline before any answer)
    latency_s: float  # from the first try to the final answer, waits included
    retries: int
    body: dict | None = None
    error: str = ""


async def post_with_retry(client: httpx.AsyncClient, path: str, payload: dict, *,
                          deadline_s: float = 300.0, headers: dict | None = None,
                          rng: random.Random | None = None) -> Outcome:
    rng = rng or random.Random()
    start = time.perf_counter()
    retries = 0
    while True:
        try:
            response = await client.post(path, json=payload, headers=headers)
        except httpx.HTTPError as err:
            return Outcome(0, time.perf_counter() - start, retries, error=repr(err))
        if response.status_code != 503:
            body = response.json() if response.headers.get(
                "content-type", "").startswith("application/json") else None
            return Outcome(response.status_code, time.perf_counter() - start, retries, body)
        wait = float(response.headers.get("Retry-After", "1")) * (0.5 + rng.random())
        if time.perf_counter() - start + wait > deadline_s:
            return Outcome(503, time.perf_counter() - start, retries,
                           error="deadline reached while the queue stayed full")
        retries += 1
        await asyncio.sleep(wait)
