"""Property tests: arbitrary sample streams never crash the engine and keep its invariants."""
from hypothesis import given, settings
from hypothesis import strategies as st

from heelcore.config import Config
from heelcore.engine import Engine
from heelcore.ticks import TICKS_PERIOD, ticks_add, ticks_diff

sample = st.tuples(
    st.integers(0, 60),  # dt ms (0 = duplicate timestamp)
    *[st.integers(-32768, 32767)] * 6,
)


def run(samples, t0=0):
    eng = Engine(Config())
    t = t0
    evs = []
    for dt, ax, ay, az, gx, gy, gz in samples:
        t = ticks_add(t, dt)
        n = eng.step(t, ax, ay, az, gx, gy, gz)
        while n:
            evs.append(eng.pop_event())
            n -= 1
    eng.finish()
    e = eng.pop_event()
    while e is not None:
        evs.append(e)
        e = eng.pop_event()
    return eng, evs


def check_invariants(evs, t0=0):
    last_t = None
    done = 0
    open_rep = None
    held = set()
    for e in evs:
        assert set(("type", "t_ms", "rep")) <= set(e)
        if last_t is not None:
            assert ticks_diff(e["t_ms"], last_t) >= 0, (last_t, e)
        last_t = e["t_ms"]
        if e["type"] == "rep_start":
            assert open_rep is None and e["rep"] == done + 1, (open_rep, done, e)
            open_rep = e["rep"]
        elif e["type"] == "hold_start":
            assert open_rep == e["rep"], e
            held.add(e["rep"])
        elif e["type"] == "rep_end":
            assert open_rep == e["rep"] == done + 1, (open_rep, done, e)
            done += 1
            open_rep = None
        elif e["type"] == "rep_cancel":
            assert open_rep == e["rep"], e
            open_rep = None


@settings(max_examples=60, deadline=None)
@given(st.lists(sample, max_size=400), st.integers(0, TICKS_PERIOD - 1))
def test_arbitrary_streams_never_crash_and_keep_invariants(samples, t0):
    eng, evs = run(samples, t0)
    check_invariants(evs)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 40), st.integers(-9000, 9000)), min_size=50, max_size=300))
def test_still_then_wild_motion(moves):
    # a still start, then arbitrary rotation about one axis with gravity noise
    samples = [(10, 0, 0, 8192, 100, -50, 30)] * 300
    for dt, g in moves:
        samples.append((dt, (g // 3) % 2000, 0, 8192 - abs(g) // 4, 100 + g, -50, 30))
    eng, evs = run(samples)
    check_invariants(evs)


def test_garbage_values_are_counted_not_used():
    eng = Engine(Config())
    for i in range(50):
        eng.step(i * 10, 0, 0, 8192, 0, 0, 0)
    for big in (1 << 20, -(1 << 20), 1 << 40):
        eng.step(600, big, 0, 0, 0, 0, 0)
    assert eng.bad_samples == 3
    eng.step(100, 0, 0, 8192, 0, 0, 0)  # time going backwards
    assert eng.out_of_order == 1


def test_saturated_samples_do_not_crash():
    eng, evs = run([(10, 32767, -32768, 32767, 32767, -32768, 32767)] * 500)
    check_invariants(evs)
