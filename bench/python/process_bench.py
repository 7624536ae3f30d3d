"""CPython's side of bench/run.mjs's process section: one workload per run, JSON out.

    python3 process_bench.py ptiny|proundtrip|pmap|ppipe|pstartup|papply
"""
import json
import os
import resource
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import Pipe, Pool, Process

TINY = int(os.environ.get("BENCH_PROCESS_TINY", 20_000))
ROUND_TRIPS = int(os.environ.get("BENCH_PROCESS_ROUND_TRIPS", 5_000))
MAP_ITEMS = int(os.environ.get("BENCH_MAP_ITEMS", 1_000_000))
PIPE_TRIPS = int(os.environ.get("BENCH_PIPE_TRIPS", 20_000))
PIPE_WARMUP = int(os.environ.get("BENCH_PIPE_WARMUP", 5_000))
APPLY_TASKS = int(os.environ.get("BENCH_APPLY_TASKS", 20_000))
APPLY_BATCHES = int(os.environ.get("BENCH_APPLY_BATCHES", 3))


def inc(x):
    return x + 1


def echo(conn):
    while True:
        v = conn.recv()
        if v == -1:
            break
        conn.send(v)


def warm(ex):
    list(ex.map(inc, range(40)))


def ptiny():
    with ProcessPoolExecutor(max_workers=2) as ex:
        warm(ex)
        t0 = time.perf_counter()
        fs = [ex.submit(inc, i) for i in range(TINY)]
        results = [f.result() for f in fs]
        s = time.perf_counter() - t0
        assert results[-1] == TINY
    return {"tasksPerSec": TINY / s}


def proundtrip():
    with ProcessPoolExecutor(max_workers=2) as ex:
        warm(ex)
        for i in range(200):
            ex.submit(inc, i).result()
        times = []
        for i in range(ROUND_TRIPS):
            t = time.perf_counter_ns()
            ex.submit(inc, i).result()
            times.append((time.perf_counter_ns() - t) / 1000)
    times.sort()
    return {"medianUs": times[len(times) // 2], "p99Us": times[int(len(times) * 0.99)]}


def pmap():
    with Pool(2) as pool:
        pool.map(inc, range(100))
        t0 = time.perf_counter()
        out = pool.map(inc, range(MAP_ITEMS))
        s = time.perf_counter() - t0
        assert len(out) == MAP_ITEMS
    return {"itemsPerSec": MAP_ITEMS / s}


def papply():
    # As the Node side: the first batch, and the best of APPLY_BATCHES in the same pool.
    rates = []
    with Pool(2) as pool:
        for i in range(40):
            pool.apply(inc, (i,))
        for _ in range(APPLY_BATCHES):
            t0 = time.perf_counter()
            results = [pool.apply_async(inc, (i,)) for i in range(APPLY_TASKS)]
            last = None
            for r in results:
                last = r.get()
            s = time.perf_counter() - t0
            assert last == APPLY_TASKS
            rates.append(APPLY_TASKS / s)
    return {"tasksPerSec": rates[0], "bestTasksPerSec": max(rates)}


def ppipe():
    here, there = Pipe()
    p = Process(target=echo, args=(there,))
    p.start()
    for i in range(PIPE_WARMUP):  # as the Node side warms up
        here.send(i)
        here.recv()
    t0 = time.perf_counter()
    for i in range(PIPE_TRIPS):
        here.send(i)
        here.recv()
    s = time.perf_counter() - t0
    here.send(-1)
    p.join()
    return {"roundTripsPerSec": PIPE_TRIPS / s}


def pstartup():
    t0 = time.perf_counter()
    with ProcessPoolExecutor(max_workers=2) as ex:
        ex.submit(inc, 1).result()
        s = time.perf_counter() - t0
    return {"ms": s * 1000}


if __name__ == "__main__":
    workload = sys.argv[1]
    result = globals()[workload]()
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"peer": "cpython", "workload": workload, **result, "maxRssMb": rss_mb}))
