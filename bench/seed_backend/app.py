"""app.py - a RECONSTRUCTION of the seed project's Python backend, kept only as a benchmark
baseline for bench/bench_api.sh. It is not part of ddosd and is never deployed.

The seed served three endpoints with FastAPI under uvicorn (uvloop + httptools, 2 workers):

    GET  /health                  -> {"status": "ok", "service": "backend"}
    GET  /api/threat-analysis?ip= -> the IP's threat level from the Redis cache, "low" by default
    POST /api/report-attack       -> records a report (JSON body) in Redis

This file rebuilds them as faithfully as we can from the seed's behaviour, reading the same Redis
layout ddosd writes (docs/redis.md: hash `ddos:verdict:<ip>`, field `threat_level`), so the
benchmark can compare both servers on the same 100,000 cached verdicts. Settings come from the
environment like the seed's did:

    REDIS_HOST (127.0.0.1), REDIS_PORT (6379), REDIS_DB (0), REDIS_PASSWORD ("")
    DDOSD_CONFIG: a config.json whose "cache" section gives enabled/ttl (default: on, 300 s)

Run it the way the seed did (from this directory):

    /usr/bin/python3 -m uvicorn app:app --host 127.0.0.1 --port 8001 --workers 2 \
        --loop uvloop --http httptools --no-access-log
"""

import ipaddress
import json
import os
import time
from typing import Optional

import redis.asyncio as aioredis
from fastapi import FastAPI, HTTPException, Query
from pydantic import BaseModel


def _cache_settings():
    enabled, ttl = True, 300
    path = os.environ.get("DDOSD_CONFIG", "")
    if path:
        try:
            with open(path) as f:
                cache = json.load(f).get("cache", {})
            enabled = bool(cache.get("enabled", enabled))
            ttl = int(cache.get("ttl", ttl))
        except (OSError, ValueError):
            pass
    return enabled, ttl


CACHE_ENABLED, CACHE_TTL = _cache_settings()
PREFIX = "ddos:"
LEVELS = ("low", "medium", "high", "critical")

app = FastAPI(title="backend")
_redis: Optional[aioredis.Redis] = None


@app.on_event("startup")
async def _connect() -> None:
    global _redis
    _redis = aioredis.Redis(
        host=os.environ.get("REDIS_HOST", "127.0.0.1"),
        port=int(os.environ.get("REDIS_PORT", "6379")),
        db=int(os.environ.get("REDIS_DB", "0")),
        password=os.environ.get("REDIS_PASSWORD") or None,
        decode_responses=True,
    )


@app.on_event("shutdown")
async def _close() -> None:
    if _redis is not None:
        await _redis.close()


def _normalise(ip: str) -> str:
    try:
        return str(ipaddress.ip_address(ip))
    except ValueError:
        raise HTTPException(status_code=400, detail="invalid ip")


@app.get("/health")
async def health():
    return {"status": "ok", "service": "backend"}


@app.get("/api/threat-analysis")
async def threat_analysis(ip: str = Query(...)):
    ip = _normalise(ip)
    level = None
    if CACHE_ENABLED:
        level = await _redis.hget(f"{PREFIX}verdict:{ip}", "threat_level")
    return {"ip": ip, "threat_level": level if level in LEVELS else "low"}


class Report(BaseModel):
    ip: str
    attack_type: str = ""
    threat_level: str = "high"
    description: str = ""


@app.post("/api/report-attack")
async def report_attack(report: Report):
    ip = _normalise(report.ip)
    if report.threat_level not in LEVELS:
        raise HTTPException(status_code=400, detail="invalid threat_level")
    now_ms = int(time.time() * 1000)
    key = f"{PREFIX}verdict:{ip}"
    async with _redis.pipeline(transaction=True) as pipe:
        pipe.hset(key, mapping={"ip": ip, "threat_level": report.threat_level,
                                "attack_type": report.attack_type, "reasons": "report",
                                "updated": now_ms})
        pipe.expire(key, CACHE_TTL)
        pipe.xadd(f"{PREFIX}reports", {"ip": ip, "threat_level": report.threat_level,
                                        "attack_type": report.attack_type,
                                        "description": report.description})
        await pipe.execute()
    return {"status": "recorded", "ip": ip, "threat_level": report.threat_level}
