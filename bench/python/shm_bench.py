"""multiprocessing's shared-memory primitives, for bench/shm.mjs.

  python3 shm_bench.py counter N   locked increments of a Value by 2 processes: /s
  python3 shm_bench.py pairs N     uncontended Lock acquire+release in a child, on the parent's Lock: /s
  python3 shm_bench.py queue N     a child's put to the parent's get on a multiprocessing.Queue: items/s
Prints one JSON line.
"""
import json
import multiprocessing as mp
import sys
import time


def count(lock, v, ready, go, done, n):
    ready.release()
    go.wait()
    for _ in range(n):
        lock.acquire()
        v.value += 1
        lock.release()
    done.release()


def counter(n):
    lock = mp.Lock()
    v = mp.Value('i', 0, lock=False)
    go = mp.Event()
    done = mp.Semaphore(0)
    ready = mp.Semaphore(0)
    ps = [mp.Process(target=count, args=(lock, v, ready, go, done, n)) for _ in range(2)]
    for p in ps:
        p.start()
    ready.acquire()
    ready.acquire()
    t0 = time.perf_counter()
    go.set()
    done.acquire()
    done.acquire()
    rate = 2 * n / (time.perf_counter() - t0)
    for p in ps:
        p.join()
    assert v.value == 2 * n, v.value
    return rate


def pair_loop(lock, n, out):
    t0 = time.perf_counter()
    for _ in range(n):
        lock.acquire()
        lock.release()
    out.value = n / (time.perf_counter() - t0)


def pairs(n):
    lock = mp.Lock()
    out = mp.Value('d', 0.0)
    p = mp.Process(target=pair_loop, args=(lock, n, out))
    p.start()
    p.join()
    return out.value


def produce(q, ready, go, n):
    ready.release()
    go.wait()
    for i in range(n):
        q.put(i)


def queue(n):
    q = mp.Queue()
    go = mp.Event()
    ready = mp.Semaphore(0)
    p = mp.Process(target=produce, args=(q, ready, go, n))
    p.start()
    ready.acquire()
    t0 = time.perf_counter()
    go.set()
    for _ in range(n):
        q.get()
    rate = n / (time.perf_counter() - t0)
    p.join()
    return rate


if __name__ == "__main__":
    what, n = sys.argv[1], int(sys.argv[2])
    print(json.dumps({"rate": {"counter": counter, "pairs": pairs, "queue": queue}[what](n)}))
