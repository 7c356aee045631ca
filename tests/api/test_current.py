"""The API answers the same bytes whether the store reads current values from memory (``imdx serve``'s default)
or queries them (``--current-mb 0``), and its caches never hold more than they are given."""

from __future__ import annotations

import httpx

from imdx.api.state import LRUCache
from tests.api.conftest import serving

REQUESTS = ["/api/v1/data/migrant_stock?destination=DEU&year=2020",
            "/api/v1/data/migrant_stock?destination=DEU,FRA&origin=_T&sex=F&page_size=7&page=2",
            "/api/v1/data/migrant_stock?year=2020&format=csv&page_size=500",
            "/api/v1/data/migrant_stock?destination=KEN&format=parquet",
            "/api/v1/data/births?area=KEN&year=1990:2000",
            "/api/v1/data/births?area=Kenya&source=wpp",
            "/api/v1/data/remittances?area=IND&flow=received",
            "/api/v1/data/migrant_stock?destination=DEU&edition=2020",
            "/api/v1/data/migrant_stock?destination=Narnia",
            "/api/v1/data/migrant_stock?destination=DEU&page=99"]


def _answers(app) -> list[tuple[int, bytes, str | None]]:
    with serving(app) as url, httpx.Client(base_url=url, timeout=60) as http:
        out = []
        for path in REQUESTS:
            r = http.get(path, headers={"Accept-Encoding": "gzip"})
            out.append((r.status_code, r.content, r.headers.get("etag")))
        return out


def test_memory_and_queries_give_the_same_answers(small_store):
    from imdx.api import create_app

    queried = _answers(create_app(small_store, current_mb=0, portal=False, sdmx=False))
    kept = create_app(small_store, portal=False, sdmx=False)
    from_memory = _answers(kept)
    assert [s for s, _, _ in queried] == [200] * 8 + [400, 404]
    assert from_memory == queried
    assert kept.state.imdx.store.current("migrant_stock", {}) is not None  # answered from memory indeed


def test_the_answer_cache_never_holds_more_than_its_bytes():
    cache = LRUCache(max_bytes=10_000, max_item_bytes=4_000)
    for i in range(1_000):
        cache.put(i, b"x", 100 + i % 50 * 60)
        assert cache._bytes <= 10_000
    cache.put("big", b"x", 4_001)  # larger than one item may be: not kept
    assert cache.get("big") is None and cache.get(999) == b"x"
    assert sum(size for _, size in cache._items.values()) == cache._bytes
