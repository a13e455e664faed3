"""A Redis client for a URL: one server (redis://, rediss://, unix://) or a Redis Cluster
(redis+cluster://host:port, any node; halls spread over its slots by their {hall} tag)."""

from __future__ import annotations

from typing import Any

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.cluster import RedisCluster

from queue_server.store.pipeline import Pipeline, endpoint

CLUSTER = "redis+cluster://"
SCHEMES = ("redis://", "rediss://", "unix://", CLUSTER)


class PipelinedRedis(Redis):
    """redis-py's client, plus one auto-pipelined connection for the hall scripts
    (store/pipeline.py), closed with it."""

    pipeline_link: Pipeline | None = None

    async def aclose(self, close_connection_pool: bool | None = None) -> None:
        if self.pipeline_link is not None:
            await self.pipeline_link.aclose()
        await super().aclose(close_connection_pool)


def connect(url: str, max_connections: int = 64) -> Any:
    """A client that decodes replies to str. Returns Redis or RedisCluster (same commands)."""
    if url.startswith(CLUSTER):
        return RedisCluster.from_url(
            "redis://" + url.removeprefix(CLUSTER),
            decode_responses=True,
            max_connections=max_connections,
            socket_connect_timeout=3,
        )
    # A blocking pool: a burst of requests waits for a connection instead of failing.
    pool = BlockingConnectionPool.from_url(
        url,
        max_connections=max_connections,
        timeout=5,
        decode_responses=True,
        socket_connect_timeout=3,
        health_check_interval=30,
    )
    client = PipelinedRedis(connection_pool=pool)
    client.auto_close_connection_pool = True  # owns the pool: aclose() closes it
    where = endpoint(client)
    if where is not None:
        client.pipeline_link = Pipeline(where)
    return client
