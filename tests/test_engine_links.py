"""Shared links against closed forms: processor sharing, weights, refresh."""

import numpy as np
import pytest
import simpy
from hypothesis import given, settings, strategies as st
from refresh_oracle import refresh_process

from memsim.engine.links import LinkGroup, SharedLink
from memsim.engine.traffic import background_process

GBPS = 1e9


def _run_transfers(bandwidth, requests):
    """requests: list of (start_ps, nbytes, weight); returns finish times."""
    env = simpy.Environment()
    link = SharedLink(env, bandwidth)
    finish = [None] * len(requests)

    def proc(i, start, nbytes, weight):
        yield env.timeout(start)
        yield link.transfer(nbytes, weight)
        finish[i] = env.now

    for i, (start, nbytes, weight) in enumerate(requests):
        env.process(proc(i, start, nbytes, weight))
    env.run()
    return finish, link


def test_single_transfer_takes_bytes_over_bandwidth():
    finish, link = _run_transfers(10 * GBPS, [(0, 1_000_000, 1.0)])
    assert finish[0] == 100_000_000  # 1 MB at 10 GB/s = 100 us = 1e8 ps
    assert link.busy_ps == 100_000_000


def test_two_equal_transfers_each_take_twice_as_long():
    finish, _ = _run_transfers(10 * GBPS, [(0, 1_000_000, 1.0), (0, 1_000_000, 1.0)])
    assert finish == [200_000_000, 200_000_000]


def test_late_arrival_shares_from_its_arrival():
    # A alone for 50 us moves 500 kB; then A and B share: A's last 500 kB takes 100 us.
    finish, _ = _run_transfers(10 * GBPS, [(0, 1_000_000, 1.0), (50_000_000, 1_000_000, 1.0)])
    assert finish[0] == 150_000_000
    # B moved 500 kB while sharing, then 500 kB alone: 150 us + 50 us.
    assert finish[1] == 200_000_000


def test_weights_split_bandwidth_proportionally():
    finish, _ = _run_transfers(9 * GBPS, [(0, 900_000, 2.0), (0, 900_000, 1.0)])
    # Heavy gets 6 GB/s: 900 kB in 150 us; light then has 900k - 450k = 450 kB alone at 9 GB/s = 50 us.
    assert finish[0] == 150_000_000
    assert finish[1] == 200_000_000


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 10**7), st.integers(1, 10**6)), min_size=1, max_size=12))
def test_work_conservation(reqs):
    """The link is never idle while work waits, so the last finish equals the fluid bound."""
    bandwidth = 4 * GBPS
    finish, link = _run_transfers(bandwidth, [(s, b, 1.0) for s, b in reqs])
    # Fluid busy-period recursion over arrivals sorted by time.
    t = 0.0
    for start, nbytes in sorted(reqs):
        t = max(t, start) + nbytes / bandwidth * 1e12
    assert max(finish) == pytest.approx(t, abs=len(reqs) + 1)
    assert link.bytes == sum(b for _, b in reqs)


def test_refresh_lowers_throughput_by_blocked_over_interval():
    env = simpy.Environment()
    link = SharedLink(env, 10 * GBPS)
    stop = env.event()
    interval, blocked = 3_900_000, 350_000  # 3.9 us / 350 ns
    env.process(refresh_process(env, link, interval, blocked, 0, stop))
    nbytes = 50_000_000  # 5 ms of transfer alone, ~1282 refresh windows

    def proc():
        yield link.transfer(nbytes)
        stop.succeed()

    env.process(proc())
    env.run()
    throughput = nbytes / env.now * 1e12
    expected = 10 * GBPS * (1 - blocked / interval)
    assert throughput == pytest.approx(expected, rel=0.01)


def test_link_group_splits_evenly():
    env = simpy.Environment()
    group = LinkGroup([SharedLink(env, 5 * GBPS), SharedLink(env, 5 * GBPS)])
    done = []

    def proc():
        yield group.transfer(1_000_000)
        done.append(env.now)

    env.process(proc())
    env.run()
    assert done == [100_000_000]
    assert group.bandwidth_bytes_per_s == 10 * GBPS


@pytest.mark.parametrize("pattern", ["constant", "poisson"])
def test_background_traffic_reaches_its_mean_bandwidth(pattern):
    env = simpy.Environment()
    link = SharedLink(env, 100 * GBPS)
    stop = env.event()
    counter = {}
    env.process(background_process(env, link, 2 * GBPS, 4096, pattern,
                                   np.random.default_rng(0), stop, counter))
    horizon = 200_000_000  # 200 us: ~97 kB expected at 2 GB/s... 400 kB

    def stopper():
        yield env.timeout(horizon)
        stop.succeed()

    env.process(stopper())
    env.run()
    achieved = counter["bytes"] / horizon * 1e12
    tolerance = 0.01 if pattern == "constant" else 0.1
    assert achieved == pytest.approx(2 * GBPS, rel=tolerance)


# -- refresh without the process: the callback chain and lazy windows give the same finishes --

def _refresh_finishes(mode, bandwidth, interval, blocked, phase, requests):
    """Finish time (and order) of every transfer under refresh driven by ``mode``."""
    from memsim.engine.links import RefreshHazard, start_refresh

    env = simpy.Environment()
    link = SharedLink(env, bandwidth)
    stop = env.event()
    if mode == "process":
        env.process(refresh_process(env, link, interval, blocked, phase, stop))
    elif mode == "chain":
        start_refresh(env, link, interval, blocked, phase, stop)
    else:
        link.refresh_lazily(interval, blocked, phase)
    order = []

    def proc(i, start, nbytes):
        yield env.timeout(start)
        yield link.transfer(nbytes)
        order.append((i, env.now))

    for i, (start, nbytes) in enumerate(requests):
        env.process(proc(i, start, nbytes))
    try:
        env.run(until=max(s for s, _ in requests) + 10**10)
    except RefreshHazard:
        assert link.refresh_hazard
        return None
    return order


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 40_000_000), st.integers(1, 200_000)), min_size=1,
                max_size=25),
       st.integers(0, 3_899_999), st.sampled_from([0, 280_000, 1_000_000]))
def test_refresh_chain_and_lazy_windows_match_the_process(reqs, phase, start_shift):
    interval, blocked, bandwidth = 3_900_000, 280_000, 4.25 * GBPS
    # some requests exactly at window boundaries (lazy windows must notice and give up)
    reqs = reqs + [(phase + start_shift, 50_000)]
    want = _refresh_finishes("process", bandwidth, interval, blocked, phase, reqs)
    assert _refresh_finishes("chain", bandwidth, interval, blocked, phase, reqs) == want
    lazy = _refresh_finishes("lazy", bandwidth, interval, blocked, phase, reqs)
    assert lazy is None or lazy == want


def test_lazy_refresh_windows_follow_busy_and_idle_periods_exactly():
    rng = np.random.default_rng(7)
    interval, blocked, phase, bandwidth = 3_900_000, 280_000, 1_300_000, 4.25 * GBPS
    reqs = [(int(s), int(b)) for s, b in zip(np.sort(rng.integers(0, 200_000_000, 300)),
                                               rng.integers(1_000, 40_000, 300))]
    reqs += [(150_000_000 + k, 2_000_000) for k in range(3)]  # a long busy period
    want = _refresh_finishes("process", bandwidth, interval, blocked, phase, reqs)
    assert _refresh_finishes("lazy", bandwidth, interval, blocked, phase, reqs) == want
