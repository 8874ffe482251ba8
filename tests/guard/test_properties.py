"""Property tests: for any valid profile and any sequence of commands, the outputs stay
under the caps and every session ends at zero."""

from __future__ import annotations

from core_testlib import play, run_virtual
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from firmware_host.clock import LoopClock
from firmware_host.drive.actuator import ActuatorKind
from firmware_host.guard.limits import DEFAULT_LIMITS
from firmware_host.plan.profile import parse_profile
from firmware_host.plan.timeline import compile_profile
from firmware_host.play.engine import Engine

levels = st.floats(min_value=0, max_value=1, allow_nan=False).map(lambda x: round(x, 3))
durations = st.integers(min_value=1, max_value=20_000).map(lambda ms: f'"{ms}ms"')


@st.composite
def step(draw: st.DrawFn, depth: int = 0) -> str:
    kinds = ["ramp", "hold", "rest", "set", "pulses", "breathe", "envelope"]
    if depth < 2:
        kinds.append("repeat")
    kind = draw(st.sampled_from(kinds))
    if kind == "ramp":
        ease = draw(st.sampled_from(["linear", "in", "out", "in-out"]))
        return f'ramp = {draw(levels)}\nover = {draw(durations)}\nease = "{ease}"\n'
    if kind in ("hold", "rest"):
        return f"{kind} = {draw(durations)}\n"
    if kind == "set":
        return f"set = {draw(levels)}\nfor = {draw(durations)}\n"
    if kind == "pulses":
        return (
            f"pulses = {draw(st.integers(1, 6))}\nlevel = {draw(levels)}\n"
            f"on = {draw(durations)}\noff = {draw(durations)}\n"
        )
    if kind == "breathe":
        return (
            f"breathe = {draw(st.integers(1, 3))}\nlevel = {draw(levels)}\n"
            f'inhale = {draw(durations)}\nexhale = "20s"\nrise = "1s"\nfall = "1s"\n'
        )
    if kind == "envelope":
        n = draw(st.integers(2, 5))
        pts = ", ".join(f'["{i}s", {draw(levels)}]' for i in range(n))
        return f"envelope = [{pts}]\ntimes = {draw(st.integers(1, 3))}\n"
    inner = draw(st.lists(step(depth + 1), min_size=1, max_size=3))
    prefix = "steps." * (depth + 1)
    body = "".join(f"[[{prefix}steps]]\n{s}" for s in inner)
    return f"repeat = {draw(st.integers(1, 3))}\n" + body


@st.composite
def profile_text(draw: st.DrawFn) -> str:
    steps = draw(st.lists(step(), min_size=1, max_size=5))
    jitter = draw(st.booleans())
    text = 'name = "p"\ndescription = "generated"\nkinds = ["vibration", "pressure"]\n'
    if jitter:
        text += f"[jitter]\ntime = 0.2\nlevel = 0.2\nseed = {draw(st.integers(0, 99))}\n"
    # Nested tables must follow their parent directly, so each step carries its own block.
    for s in steps:
        head, _, rest = s.partition("[[")
        text += f"[[steps]]\n{head}" + (f"[[{rest}" if rest else "")
    return text + '[[steps]]\nrest = "1s"\n'


controls = st.lists(
    st.tuples(
        st.floats(0.1, 120), st.sampled_from(["pause", "resume", "scale", "stop"]), st.floats(0, 3)
    ),
    max_size=6,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    text=profile_text(),
    kind=st.sampled_from(["vibration", "pressure"]),
    cmds=controls,
    max_level=st.one_of(st.none(), st.floats(0.05, 1.0)),
)
def test_outputs_never_exceed_caps_and_sessions_end_at_zero(
    text: str, kind: str, cmds: list[tuple[float, str, float]], max_level: float | None
) -> None:
    timeline = compile_profile(parse_profile(text))
    limits = DEFAULT_LIMITS[ActuatorKind(kind)]

    async def control(engine: Engine, clock: LoopClock) -> None:
        for delay, what, value in cmds:
            await clock.sleep_until(clock.now() + delay)
            if what == "pause":
                engine.pause()
            elif what == "resume":
                engine.resume()
            elif what == "scale":
                engine.set_scale(value)
            else:
                engine.stop("property test")
        await clock.sleep_until(clock.now() + 1)
        engine.resume()  # a session left paused forever would never end

    played = run_virtual(lambda: play(timeline, kind, max_level=max_level, control=control))
    cap = limits.max_level if max_level is None else min(max_level, limits.max_level)
    rows = played.rows
    assert all(0 <= v <= cap + 1e-9 for _, v in rows)
    assert rows[-1][1] == 0
    assert all(t1 >= t0 for (t0, _), (t1, _) in zip(rows, rows[1:], strict=False))
    if kind == "pressure":
        for (t0, v0), (t1, v1) in zip(rows, rows[1:], strict=False):
            if v1 > v0:  # soft start: no pressure step, ever (times are whole microseconds)
                assert v1 - v0 <= limits.max_rise_per_s * (t1 - t0 + 2e-6) + 1e-9
    assert played.actuator.lease_expiries == 0
