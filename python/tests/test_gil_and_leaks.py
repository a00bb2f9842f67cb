"""Long operations release the GIL; create/destroy cycles do not leak."""
import bisect
import gc
import sys
import threading
import time

import numpy as np
import pytest

import petrel
from conftest import rss_bytes, shape_of


def runs_during(call, repeats=10):
    """In how many of `repeats` calls a pure-Python thread ran during the middle half of the
    call. A C call that holds the GIL leaves it no chance: the thread can only run at the
    bytecode boundaries just before and after the call, so the count is ~0; one that releases
    the GIL gives ~all."""
    times, state = [], {"stop": False}

    def spin():
        while not state["stop"]:
            times.append(time.perf_counter())

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-4)
    t = threading.Thread(target=spin)
    t.start()
    windows = []
    try:
        time.sleep(0.01)
        for _ in range(repeats):
            t0 = time.perf_counter()
            call()
            windows.append((t0, time.perf_counter()))
    finally:
        state["stop"] = True
        t.join()
        sys.setswitchinterval(interval)
    hits = 0
    for t0, t1 in windows:
        i = bisect.bisect_right(times, t0 + 0.25 * (t1 - t0))
        hits += i < len(times) and times[i] < t0 + 0.75 * (t1 - t0)
    return hits


# 32 M voxels (128 MB): one fill or copy takes tens of milliseconds, hundreds of switch intervals
BIG = (512, 256, 256, 512, 256, 256)


def test_the_gil_probe_sees_a_call_that_holds_the_gil():
    data = bytes(128 * 2**20)
    assert runs_during(lambda: data.count(b"\x01")) <= 2


def test_set_value_releases_the_gil():
    img = petrel.ImageOwned(petrel.ImageParams(*BIG))
    img.allocate()
    assert runs_during(lambda: img.setValue(1.0)) >= 5
    assert np.asarray(img)[-1, -1, -1] == 1.0


def test_copy_from_image_releases_the_gil():
    a, b = petrel.ImageOwned(petrel.ImageParams(*BIG)), petrel.ImageOwned(petrel.ImageParams(*BIG))
    a.allocate()
    b.allocate()
    assert runs_during(lambda: a.copyFromImage(b)) >= 5


def cycle(params, arr):
    """One round of everything that allocates: owned + views, alias + binds, DLPack, errors."""
    img = petrel.ImageOwned(params)
    img.allocate()
    v = np.array(img, copy=False)
    v[0, 0, 0] = 1
    t = np.from_dlpack(img)
    img.__dlpack__()  # unconsumed capsule
    al = petrel.ImageAlias(params)
    al.bind(arr)
    al.setValue(2)
    al.copyFromImage(img)
    try:
        al.bind(arr[:, :, :1])
    except ValueError:
        pass
    try:
        petrel.ImageOwned(params).setValue(0)
    except RuntimeError:
        pass
    del v, t, img, al


def test_no_leak_over_many_create_destroy_cycles():
    params = petrel.ImageParams(32, 32, 32, 32, 32, 32)  # 128 KiB per image
    arr = np.zeros(shape_of(params), np.float32)
    for _ in range(1000):
        cycle(params, arr)
    gc.collect()
    before = rss_bytes()
    for _ in range(10_000):
        cycle(params, arr)
    gc.collect()
    grown = rss_bytes() - before
    # a leak of the voxels alone would be 10^4 x 128 KiB = 1.3 GB
    assert grown < 16 * 2**20, f"RSS grew by {grown / 2**20:.1f} MiB over 10^4 cycles"


def projdata_cycle(scanner, y, t, d1, d2, img, project):
    his = petrel.Histogram3DOwned(scanner)
    his.allocate()
    v = np.asarray(his)
    al = petrel.Histogram3DAlias(scanner)
    al.bind(y)
    it = his.getBinIter(2, 1)
    lm = petrel.ListModeLUTAlias(scanner)
    lm.bind(t, d1, d2)
    own = petrel.ListModeLUTOwned(scanner)
    own.allocate(len(t))
    d = own.getDetector1Array()
    pp = petrel.ProjectorParams(scanner)
    op = petrel.OperatorProjectorSiddon(pp, it)
    if project:  # OpenMP start-up makes projecting the slow part of a cycle
        op.applyA(img, his)
        op.applyAH(al, img)
        op.applyAH(lm, img)
    try:
        al.bind(y[:1])
    except ValueError:
        pass
    del v, d, his, al, it, lm, own, op, pp


def test_no_leak_over_projection_data_cycles():
    scanner = petrel.Scanner("TINY", 10, 2.0, 2.0, 10.0, 40, 32, 2, 1, 1, 1, 8)
    shape = petrel.Histogram3DOwned(scanner)
    y = np.ones((shape.numZBin, shape.numPhi, shape.numR), np.float32)
    t = np.arange(16, dtype=np.uint32)
    d1 = t.copy()
    d2 = (t + 16).astype(np.uint32)
    img = petrel.ImageOwned(petrel.ImageParams(8, 8, 4, 40, 40, 10))
    img.allocate()
    for i in range(500):
        projdata_cycle(scanner, y, t, d1, d2, img, i % 10 == 0)
    gc.collect()
    before = rss_bytes()
    for i in range(10_000):
        projdata_cycle(scanner, y, t, d1, d2, img, i % 10 == 0)
    gc.collect()
    grown = rss_bytes() - before
    assert grown < 16 * 2**20, f"RSS grew by {grown / 2**20:.1f} MiB over 10^4 cycles"
