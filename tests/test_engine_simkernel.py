"""The engine's simpy internals (``memsim.engine.simkernel``) against simpy's own behaviour.

The fast ``run`` loop and the bare events must process events in exactly the order, and with
exactly the effects, of ``simpy.Environment.step``; these tests drive random mixes of
processes, timeouts, conditions, urgent/normal bare events and failures through both and
compare the traces. Run them against every simpy release the pin (``SIMPY_TESTED``) admits.
"""

from __future__ import annotations

import pytest
import simpy
from hypothesis import given, settings, strategies as st

from memsim.engine.simkernel import (NORMAL, SIMPY_TESTED, URGENT, BareEvent, Environment,
                                     events_at, schedule)


def _version(text: str) -> tuple:
    return tuple(int(p) for p in text.split(".")[:3] if p.isdigit())


def test_installed_simpy_is_in_the_tested_range():
    low, high = (part.lstrip("<>=") for part in SIMPY_TESTED.split(","))
    assert _version(low) <= _version(simpy.__version__) < _version(high)


def test_the_internals_the_kernel_uses_exist():
    env = simpy.Environment()
    assert isinstance(env._queue, list) and env._now == 0 and isinstance(next(env._eid), int)
    event = env.event()
    assert event.callbacks == []
    event.succeed("v")
    assert event._ok is True and event._value == "v"
    at, priority, _, queued = env._queue[0]  # (time, priority, id, event) heap entries
    assert (at, priority, queued) == (0, NORMAL, event) and URGENT < NORMAL
    failed = env.event()
    failed.fail(ValueError("x"))
    failed.defused = True
    assert failed._ok is False and hasattr(failed, "_defused")


def _scenario(env, spec, log):
    """Processes from ``spec``: each ``(delays, urgent_ticks)`` entry is a process that waits
    through its delays (some as any_of/all_of pairs) and schedules bare events."""
    stop = env.event()

    def tick(label):
        def callback(_event):
            log.append((env.now, label))
        return callback

    def proc(i, delays, ticks):
        for k, d in enumerate(delays):
            if k % 3 == 2:
                yield env.any_of([env.timeout(d), env.timeout(d + 1)])
            elif k % 3 == 1:
                yield env.all_of([env.timeout(d), env.timeout(0)])
            else:
                yield env.timeout(d)
            log.append((env.now, f"p{i}.{k}"))
            for j, (at, urgent) in enumerate(ticks):
                schedule(env, env.now + at, URGENT if urgent else NORMAL,
                         BareEvent(tick(f"t{i}.{k}.{j}")))
        return i

    procs = [env.process(proc(i, d, t)) for i, (d, t) in enumerate(spec)]
    done = env.all_of(procs)
    done.callbacks.append(lambda _e: stop.succeed())
    return done


SPECS = st.lists(st.tuples(st.lists(st.integers(0, 5), min_size=1, max_size=5),
                           st.lists(st.tuples(st.integers(0, 4), st.booleans()), max_size=3)),
                 min_size=1, max_size=5)


@settings(max_examples=60, deadline=None)
@given(SPECS)
def test_fast_loop_orders_every_event_as_simpy_does(spec):
    traces = []
    for cls in (simpy.Environment, Environment):
        env, log = cls(), []
        done = _scenario(env, spec, log)
        value = env.run(until=done)
        traces.append((log, env.now, sorted(value.values())))
    assert traces[0] == traces[1]


def test_fast_loop_raises_an_undefused_failure_like_simpy():
    errors = []
    for cls in (simpy.Environment, Environment):
        env = cls()

        def boom():
            yield env.timeout(3)
            raise ValueError("bad tile")

        env.process(boom())
        with pytest.raises(ValueError, match="bad tile") as info:
            env.run(until=env.timeout(10))
        errors.append((type(info.value), env.now))
    assert errors[0] == errors[1]


def test_until_an_event_that_never_comes_is_an_error():
    env = Environment()
    with pytest.raises(RuntimeError, match="No scheduled events left"):
        env.run(until=env.event())


def test_events_at_sees_exactly_the_scheduled_times():
    env = Environment()
    schedule(env, 5, NORMAL, BareEvent(lambda e: None))
    env.timeout(7)
    assert events_at(env, 5) and events_at(env, 7) and not events_at(env, 6)
