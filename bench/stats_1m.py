"""The admin stats query on a million request-log rows in PostgreSQL.

Creates a throw-away database, migrates it and writes N request logs spread evenly over the last 7
days, in time order as logs arrive (12 models, 50 keys, 30 tokens, 5% failures), with SQL; fills
the hourly rollup with the statement migration 0003 uses; times ``GetStats`` as the config service
runs it (totals, series, per model/key/token, windows) for the last day and the whole 7 days, and
times the write path (WriteLogs batches of 1000, rollup included). Figures, not assertions.

    uv run python bench/stats_1m.py [--rows 1000000] [--pg postgresql://postgres@127.0.0.1:5432/postgres]
"""

import argparse
import importlib.util
import statistics
import time
import uuid

import psycopg

from gempool.api.config.v1 import config_pb2
from gempool.config import stats
from gempool.config.db import MIGRATIONS, make_engine
from gempool.config.store import Store

# The rollup statement of migration 0003 (a module whose name starts with a digit).
_spec = importlib.util.spec_from_file_location("m0003", MIGRATIONS / "versions" / "0003_request_stats.py")
assert _spec is not None and _spec.loader is not None
_m0003 = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_m0003)
BACKFILL, HOUR = _m0003.BACKFILL, _m0003.HOUR

FILL = """
INSERT INTO request_logs (at, token_name, model, dialect, key_masked, attempts, status,
                          latency_seconds, first_byte_seconds, tokens_in, tokens_out, request_id)
SELECT now() - interval '7 days' + (n::float8 / %(rows)s) * interval '7 days',
       'team-' || (n %% 30),
       'gemini-model-' || (n %% 12),
       CASE WHEN n %% 4 = 0 THEN 'openai' ELSE 'gemini' END,
       'AIza...' || lpad((n %% 50)::text, 4, '0'),
       1 + (n %% 20 = 0)::int,
       CASE WHEN n %% 20 = 0 THEN 429 ELSE 200 END,
       random() * 3, random(), (random() * 2000)::int, (random() * 800)::int,
       md5(n::text)
FROM generate_series(1, %(rows)s) AS n
"""


ROLLUP = BACKFILL.format(hour=HOUR["postgresql"])


def timed(
    store: Store, request: config_pb2.GetStatsRequest, runs: int
) -> tuple[float, config_pb2.GetStatsResponse]:
    seconds, reply = [], config_pb2.GetStatsResponse()
    for _ in range(runs):
        started = time.perf_counter()
        reply = store.run(stats.get_stats, request)
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds), reply


def write_path(store: Store, batches: int = 20) -> None:
    now = time.time()
    started = time.perf_counter()
    for b in range(batches):
        logs = [
            config_pb2.RequestLog(
                at_unix=now - n,
                model=f"gemini-model-{n % 12}",
                token_name=f"team-{n % 30}",
                key_masked=f"AIza...{n % 50:04d}",
                status=200,
                latency_seconds=1.0,
                tokens_in=10,
                tokens_out=5,
            )
            for n in range(1000)
        ]
        store.write_logs(logs, [], f"bench-{b}")
    seconds = time.perf_counter() - started
    print(f"WriteLogs: {batches} batches of 1000 in {seconds:.2f}s ({batches * 1000 / seconds:.0f} rows/s)")  # noqa: T201


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    name = f"gempool_stats_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(args.pg, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = args.pg.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://") + f"/{name}"
    engine = make_engine(url)
    try:
        store = Store(engine)
        store.prepare({"AUTH_TOKEN": "bench"})
        started = time.perf_counter()
        with psycopg.connect(url.replace("+psycopg", ""), autocommit=True) as conn:
            conn.execute(FILL, {"rows": args.rows})
            conn.execute(ROLLUP)
            conn.execute("VACUUM ANALYZE")
            rollup_rows = conn.execute("SELECT count(*) FROM request_stats").fetchone()
        print(  # noqa: T201
            f"{args.rows} rows written and analysed in {time.perf_counter() - started:.1f}s; "
            f"{rollup_rows[0] if rollup_rows else 0} hourly rollup rows"
        )
        now = time.time()
        for label, since, bucket in (
            ("last day, hourly", now - 86400, 3600),
            ("7 days, daily", now - 7 * 86400, 86400),
        ):
            request = config_pb2.GetStatsRequest(since_unix=since, until_unix=now, bucket_seconds=bucket)
            median, reply = timed(store, request, args.runs)
            print(  # noqa: T201
                f"GetStats {label}: {reply.total.calls} calls, {len(reply.series)} buckets, "
                f"{len(reply.by_model)}/{len(reply.by_key)}/{len(reply.by_token)} groups: "
                f"median {median * 1000:.0f} ms over {args.runs} runs"
            )
        write_path(store)
    finally:
        engine.dispose()
        with psycopg.connect(args.pg, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
