"""The engine's fast path (``memsim.engine.fastpath``) against per-tile simulation.

Every case runs a scenario twice, ``engine.granularity: per-tile`` (one event chain per tile,
the reference) and ``auto`` (frame replays and steady-state jumps where exact), and requires
the same counts bit for bit and the same times within 0.1 % (the fast path is exact; only
float sums of compute cycles may differ in the last bit). Each case also checks that the fast
path it is about did happen, so a case cannot pass by never taking it.
"""

from pathlib import Path

import numpy as np
import pytest

import memsim
from memsim.cache import CacheLevelSpec, Hierarchy
from memsim.cli import main
from memsim.config import Engine, load_scenario
from memsim.engine import fastpath

HW_CACHE = """
name: two-level
compute: {{cores: {cores}, clock: 1 GHz, kind: simd, macs_per_cycle: {{int8: 16}}}}
memory:
  levels:
    - {{name: L1, kind: cache, size: 8 KiB, line: 64 B, ways: 4, latency: 2 cycles, bandwidth: 64 B/cycle, scope: core}}
    - {{name: L2, kind: cache, size: 64 KiB, line: 64 B, ways: {l2_ways}, latency: 10 cycles, bandwidth: 32 B/cycle, scope: shared}}
  dram: {{name: d, bandwidth: {dram}, latency: 50 ns, channels: 2}}
"""

HW_SPM = """
name: npu
compute: {cores: 1, clock: 1 GHz, kind: simd, macs_per_cycle: {int8: 64}}
memory:
  levels:
    - {name: SPM, kind: scratchpad, size: 16 KiB, latency: 1 cycles, bandwidth: 64 B/cycle, scope: core}
  dram: {name: d, bandwidth: 2 GB/s, latency: 100 ns, channels: 1}
"""

CONV_NET = """
name: small
inputs: {x: [1, 16, 32, 32]}
layers:
  - {name: c1, op: conv2d, out_channels: 16, kernel: 3, padding: 1}
  - {name: r1, op: relu}
  - {name: c2, op: conv2d, out_channels: 32, kernel: 1}
"""

# one long streaming layer: every tile alike, so the layer reaches a periodic state
STREAM_NET = """
name: stream
inputs: {x: [1, 64, 128, 128]}
layers:
  - {name: r, op: relu}
"""

# a cold frame 1 leaves other lines behind than frame 2 finds; the first layer streams more
# than the caches hold, so from the second layer on frame 2 is in frame 1's state
FLUSH_THEN_CONV = """
name: flush
inputs: {x: [1, 16, 96, 96]}
layers:
  - {name: r0, op: relu}
  - {name: c1, op: conv2d, out_channels: 16, kernel: 3, padding: 1}
  - {name: r1, op: relu}
  - {name: c2, op: conv2d, out_channels: 8, kernel: 1}
"""

COUNT_PREFIXES = ("bytes_",)
COUNT_COLUMNS = ("macs", "dram_bytes")


def _write(tmp_path, hw_text, net_text, frames=3, depth=1, extra=""):
    (tmp_path / "hw.yaml").write_text(hw_text)
    (tmp_path / "net.yaml").write_text(net_text)
    path = tmp_path / "s.yaml"
    path.write_text(f"name: t\nhardware: hw.yaml\nstreams:\n  - {{network: net.yaml, dtype: int8, "
                    f"frames: {frames}}}\n{extra}strategies:\n  prefetch: {{depth: {depth}}}\n"
                    "seed: 1\n")
    return path


def _run(path, granularity, monkeypatch=None):
    """(Result, the run's FastPath or None) for ``granularity``."""
    made = []
    if monkeypatch is not None:
        original = fastpath.FastPath.__init__

        def init(self, *args, **kwargs):
            original(self, *args, **kwargs)
            made.append(self)
        monkeypatch.setattr(fastpath.FastPath, "__init__", init)
    scenario = load_scenario(path)
    scenario = scenario.model_copy(update={"engine": Engine(granularity=granularity)})
    result = memsim.simulate(scenario)
    if monkeypatch is not None:
        monkeypatch.undo()
    return result, (made[0] if made else None)


def _assert_agree(fast, slow):
    a, b = fast.layers, slow.layers
    assert list(a["name"]) == list(b["name"]) and list(a["frame"]) == list(b["frame"])
    counts = [c for c in b.columns if c.startswith(COUNT_PREFIXES) or c in COUNT_COLUMNS]
    assert counts
    for col in counts:
        assert (a[col].to_numpy() == b[col].to_numpy()).all(), col
    for col in [c for c in b.columns if c.endswith("_s")]:
        x, y = a[col].to_numpy(float), b[col].to_numpy(float)
        assert np.all(np.abs(x - y) <= 1e-3 * np.abs(y) + 1e-15), col
    for col in ("latency_s", "end_s", "start_s"):
        x, y = fast.frames[col].to_numpy(float), slow.frames[col].to_numpy(float)
        assert np.all(np.abs(x - y) <= 1e-3 * np.abs(y) + 1e-15), col
    for key in ("dram_bytes", "events", "compute_cycles"):
        assert fast.summary[key] == pytest.approx(slow.summary[key], rel=1e-12), key
    assert fast.summary["latency_s"] == pytest.approx(slow.summary["latency_s"], rel=1e-3)


@pytest.mark.parametrize("cores,depth", [(1, 0), (1, 1), (1, 2), (2, 1), (4, 2)])
def test_frame_replay_agrees_with_per_tile(tmp_path, monkeypatch, cores, depth):
    """Frames 2.. start from the state frame 1 started from (caches warm, system at rest):
    they are replayed, with the same counts and times as simulating them."""
    hw = HW_CACHE.format(cores=cores, l2_ways=8, dram="10 GB/s")
    path = _write(tmp_path, hw, CONV_NET, frames=4, depth=depth)
    fast, fp = _run(path, "auto", monkeypatch)
    slow, none = _run(path, "per-tile", monkeypatch)
    assert none is None  # per-tile: no fast path at all
    assert fp.frames_replayed >= 1
    _assert_agree(fast, slow)


@pytest.mark.parametrize("cores,depth", [(1, 0), (1, 1), (2, 1), (4, 2)])
def test_rest_of_frame_replay_agrees_with_per_tile(tmp_path, monkeypatch, cores, depth):
    """Frame 2 starts from another state than the cold frame 1 did, but reaches frame 1's
    state before a later layer: from there on it is replayed (and frame 3, which starts from
    frame 2's start state, whole), with the same counts and times as simulating them."""
    hw = HW_CACHE.format(cores=cores, l2_ways=8, dram="10 GB/s")
    path = _write(tmp_path, hw, FLUSH_THEN_CONV, frames=3, depth=depth)
    fast, fp = _run(path, "auto", monkeypatch)
    slow, _ = _run(path, "per-tile")
    assert fp.frames.rests_replayed >= 1 and fp.frames_replayed >= 1
    _assert_agree(fast, slow)


@pytest.mark.parametrize("depth", [0, 1, 2])
def test_steady_state_jumps_agree_with_per_tile(tmp_path, monkeypatch, depth):
    """A long streaming layer on one core reaches a periodic state; jumping over verified
    periods gives the per-tile counts bit for bit and its times."""
    hw = HW_CACHE.format(cores=1, l2_ways=8, dram="4 GB/s")
    path = _write(tmp_path, hw, STREAM_NET, frames=1, depth=depth)
    fast, fp = _run(path, "auto", monkeypatch)
    slow, _ = _run(path, "per-tile")
    assert fp.jumps >= 1 and fp.tiles_jumped > 100
    _assert_agree(fast, slow)


def test_steady_state_jumps_on_a_scratchpad(tmp_path, monkeypatch):
    """Without caches (DMA into a scratchpad) the tile cost is its fields alone."""
    path = _write(tmp_path, HW_SPM, STREAM_NET, frames=2)
    fast, fp = _run(path, "auto", monkeypatch)
    slow, _ = _run(path, "per-tile")
    assert fp.jumps >= 1
    _assert_agree(fast, slow)


def test_sixteen_way_lru_and_fifo_frames(tmp_path, monkeypatch):
    """Replacement state in nibble order words (16 ways) and FIFO compare canonically."""
    hw = HW_CACHE.format(cores=2, l2_ways=16, dram="10 GB/s")
    hw = hw.replace("ways: 4,", "ways: 4, policy: fifo,")
    path = _write(tmp_path, hw, CONV_NET, frames=6)
    fast, fp = _run(path, "auto", monkeypatch)
    slow, _ = _run(path, "per-tile")
    assert fp.frames_replayed >= 1
    _assert_agree(fast, slow)


def test_two_streams_and_background_stay_per_tile(tmp_path, monkeypatch):
    """Where another stream or background traffic could interleave there is no fast path."""
    hw = HW_CACHE.format(cores=2, l2_ways=8, dram="10 GB/s")
    (tmp_path / "hw.yaml").write_text(hw)
    (tmp_path / "net.yaml").write_text(CONV_NET)
    path = tmp_path / "two.yaml"
    path.write_text("name: two\nhardware: hw.yaml\nstreams:\n"
                    "  - {network: net.yaml, dtype: int8, frames: 2, cores: [0]}\n"
                    "  - {network: net.yaml, dtype: int8, frames: 2, cores: [1]}\n"
                    "background:\n  - {bandwidth: 0.5 GB/s, burst: 4 KiB}\nseed: 2\n")
    fast, fp = _run(path, "auto", monkeypatch)
    slow, _ = _run(path, "per-tile")
    assert fp is None
    _assert_agree(fast, slow)


def test_fast_path_is_deterministic(tmp_path):
    hw = HW_CACHE.format(cores=2, l2_ways=8, dram="10 GB/s")
    path = _write(tmp_path, hw, STREAM_NET, frames=3)
    a, _ = _run(path, "auto")
    b, _ = _run(path, "auto")
    assert a.summary == b.summary
    assert a.layers.equals(b.layers)


def test_run_per_tile_flag(tmp_path, capsys, monkeypatch):
    """``memsim run --per-tile`` forces per-tile mode (no FastPath is built) and prints the
    same numbers as the default."""
    hw = HW_CACHE.format(cores=1, l2_ways=8, dram="4 GB/s")
    path = _write(tmp_path, hw, STREAM_NET, frames=2)
    made = []
    original = fastpath.FastPath.__init__

    def init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        made.append(self)
    monkeypatch.setattr(fastpath.FastPath, "__init__", init)
    assert main(["run", str(path), "--no-save", "--json", "--per-tile"]) in (0, None)
    per_tile = capsys.readouterr().out
    assert made == []
    assert main(["run", str(path), "--no-save", "--json"]) in (0, None)
    default = capsys.readouterr().out
    assert len(made) == 1
    import json
    a, b = json.loads(per_tile), json.loads(default)
    assert a["dram_bytes"] == b["dram_bytes"]
    assert a["latency_s"] == pytest.approx(b["latency_s"], rel=1e-3)


def test_granularity_is_validated(tmp_path):
    hw = HW_CACHE.format(cores=1, l2_ways=8, dram="4 GB/s")
    path = _write(tmp_path, hw, STREAM_NET, extra="engine: {granularity: coarse}\n")
    with pytest.raises(memsim.errors.InputError, match="granularity"):
        load_scenario(path)


def _lru(ways=4, policy="lru"):
    return Hierarchy([CacheLevelSpec("L1", sets=2, ways=ways, policy=policy)], cores=1)


@pytest.mark.parametrize("policy,ways", [("lru", 4), ("lru", 16), ("lru", 32), ("fifo", 4)])
def test_state_key_ignores_way_positions(policy, ways):
    """The same lines in the same replacement order held in other ways compare equal (and
    behave equally); another order does not compare equal."""
    a, b = _lru(ways, policy), _lru(ways, policy)
    n = ways  # set 0 full: lines 0, 2, 4, ...
    a.access(0, np.arange(0, 2 * n, 2, dtype=np.int64))
    # b: fill in another order, then evict and refill so the lines sit in other ways
    first = np.arange(2 * n, 4 * n, 2, dtype=np.int64)
    b.access(0, first)
    b.access(0, np.arange(0, 2 * n, 2, dtype=np.int64))  # replaces all: same lines, same order
    assert all((x == y).all() for x, y in zip(a.state_key(), b.state_key()))
    probe = np.array([0, 2 * n, 2, 4 * n, 6], dtype=np.int64)
    assert (a.access(0, probe) == b.access(0, probe)).all()
    c = _lru(ways, policy)
    c.access(0, np.arange(2 * n - 2, -1, -2, dtype=np.int64))  # reverse order
    assert not all((x == y).all() for x, y in zip(a.state_key(), c.state_key()))


def test_snapshot_restore_round_trip():
    h = _lru()
    h.access(0, np.arange(10, dtype=np.int64))
    snap = h.snapshot()
    before = h.stats()
    h.access(0, np.arange(100, 120, dtype=np.int64))
    h.restore(snap)
    assert (h.stats() == before).all()
    again = _lru()
    again.access(0, np.arange(10, dtype=np.int64))
    probe = np.arange(0, 30, dtype=np.int64)
    assert (h.access(0, probe) == again.access(0, probe)).all()


def test_layers_stop_being_tracked_after_misses():
    """After ``GIVE_UP`` layers on ``n`` cores in a row without a jump, layers on ``n`` cores
    get no controller; other core counts still do, and a jump resets the count."""
    class Plan:
        n_tiles = 1000
        onchip_lines = None

    class Runner:
        env = system = None

    fp = fastpath.FastPath(system=None, hierarchy=None)
    plan, runner = Plan(), Runner()
    four, two = [object()] * 4, [object()] * 2
    for _ in range(fastpath.GIVE_UP - 1):
        fp.layer(runner, plan, None, four).close()
    warp = fp.layer(runner, plan, None, four)
    warp.jumped = True  # a jump: the count starts again
    warp.close()
    for _ in range(fastpath.GIVE_UP):
        warp = fp.layer(runner, plan, None, four)
        assert warp is not None
        warp.close()
    assert fp.layer(runner, plan, None, four) is None
    assert fp.layer(runner, plan, None, two) is not None
