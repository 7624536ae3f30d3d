"""multiprocessing.Queue between processes, and multiprocessing.Lock, for bench/queue.mjs.

Prints one JSON line: items/s from a child's put to the parent's get, and
uncontended acquire/release pairs/s of a multiprocessing.Lock.
"""
import json
import multiprocessing as mp
import sys
import time


def produce(q, n, ready, go):
    ready.release()
    go.wait()
    for i in range(n):
        q.put(i)


def queue_rate(n):
    # The clock starts once the child runs, as bench/queue.mjs does for concur's.
    q = mp.Queue()
    ready = mp.Semaphore(0)
    go = mp.Event()
    p = mp.Process(target=produce, args=(q, n, ready, go))
    p.start()
    ready.acquire()
    t0 = time.perf_counter()
    go.set()
    for _ in range(n):
        q.get()
    rate = n / (time.perf_counter() - t0)
    p.join()
    return rate


def lock_rate(n):
    lock = mp.Lock()
    t0 = time.perf_counter()
    for _ in range(n):
        lock.acquire()
        lock.release()
    return n / (time.perf_counter() - t0)


if __name__ == "__main__":
    n = int(sys.argv[1])
    print(json.dumps({"queue": queue_rate(n), "lock": lock_rate(n * 4)}))
