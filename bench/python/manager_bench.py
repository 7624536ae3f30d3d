"""multiprocessing.Manager's DictProxy from child processes, for bench/manager.mjs.

Prints one JSON line: set+get pairs/s of one child process, of `clients` child
processes together, the median and p99 of one call's latency (a get) in us, and
the manager server's peak RSS in MiB (VmHWM, Linux).
"""
import json
import multiprocessing as mp
import sys
import time


def pairs(d, n, start, out):
    start.wait()
    t0 = time.perf_counter()
    for i in range(n):
        d["k"] = i
        d["k"]
    out.put(time.perf_counter() - t0)


def latency(d, n, out):
    d["k"] = 1
    samples = []
    for _ in range(n):
        t0 = time.perf_counter_ns()
        d["k"]
        samples.append(time.perf_counter_ns() - t0)
    samples.sort()
    out.put((samples[len(samples) // 2] / 1000, samples[int(len(samples) * 0.99)] / 1000))


def peak_rss_mb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def rate(manager, clients, n):
    d = manager.dict()
    start = manager.Event()
    out = mp.Queue()
    procs = [mp.Process(target=pairs, args=(d, n, start, out)) for _ in range(clients)]
    for p in procs:
        p.start()
    time.sleep(0.5)  # every child connected and waiting
    t0 = time.perf_counter()
    start.set()
    for _ in procs:
        out.get()
    elapsed = time.perf_counter() - t0
    for p in procs:
        p.join()
    return clients * n / elapsed


if __name__ == "__main__":
    n = int(sys.argv[1])
    clients = int(sys.argv[2]) if len(sys.argv) > 2 else 4
    with mp.Manager() as m:
        one = rate(m, 1, n)
        many = rate(m, clients, n // clients * 2)
        out = mp.Queue()
        d = m.dict()  # held here: the server frees it when the last proxy goes
        p = mp.Process(target=latency, args=(d, n, out))
        p.start()
        median, p99 = out.get()
        p.join()
        rss = peak_rss_mb(m._process.pid)
    print(json.dumps({"onePairsPerSec": one, "manyPairsPerSec": many, "clients": clients, "medianUs": median, "p99Us": p99, "serverPeakRssMb": rss}))
