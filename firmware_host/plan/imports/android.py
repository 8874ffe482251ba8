"""Android vibration waveforms as JSON: ``timings``, ``amplitudes`` and ``repeat``.

The shape of ``VibrationEffect.createWaveform(timings, amplitudes, repeat)``: entry *i*
holds amplitude ``amplitudes[i]`` (0–255, or -1 for the device's default) for
``timings[i]`` ms. Without ``amplitudes`` the entries alternate off and on, starting off.
``repeat`` is -1 for none, or the index the waveform loops back to — forever, which a
profile cannot be, so the loop is imported as a repeat for a total time.
"""

from __future__ import annotations

from pathlib import Path

from firmware_host.plan.imports.shape import Fields, Shape, read_json

DEFAULT_REPEAT_FOR = "1m"


def import_android(path: Path, *, repeat_for: str = DEFAULT_REPEAT_FOR) -> Shape:
    """Read an Android waveform JSON file.

    Raises:
        ProfileError: a missing or malformed field, named by its path.
    """
    f = Fields(str(path))
    doc = f.table(read_json(path), "(top level)")
    timings = f.array(f.key(doc, "timings", ""), "timings")
    if not timings:
        raise f.fail("timings", "must hold at least one duration")
    durations = [round(f.number(t, f"timings[{i}]", 0, 86_400_000)) for i, t in enumerate(timings)]
    if "amplitudes" in doc:
        raw = f.array(doc["amplitudes"], "amplitudes")
        if len(raw) != len(durations):
            raise f.fail("amplitudes", f"has {len(raw)} entries; timings has {len(durations)}")
        amplitudes = [_amplitude(f, a, i) for i, a in enumerate(raw)]
    else:
        amplitudes = [0 if i % 2 == 0 else 255 for i in range(len(durations))]
    repeat = doc.get("repeat", -1)
    if isinstance(repeat, bool) or not isinstance(repeat, int) or not -1 <= repeat < len(durations):
        raise f.fail(
            "repeat", f"must be -1 or an index from 0 to {len(durations) - 1}, got {repeat!r}"
        )
    unknown = sorted(set(doc) - {"timings", "amplitudes", "repeat"})
    shape = Shape(str(path), "Android waveform")
    if unknown:
        shape.notes.append(f"unknown keys {', '.join(unknown)}")
    if -1 in amplitudes:
        shape.notes.append("default amplitude (-1) played as full level 1.0")
    end = len(durations) if repeat == -1 else repeat
    _play(shape, durations[:end], amplitudes[:end])
    if repeat != -1:
        tail = Shape(str(path), "Android waveform")
        _play(tail, durations[repeat:], amplitudes[repeat:])
        shape.tail, shape.tail_total = tail, repeat_for
        shape.notes.append(
            f"loops from entry {repeat} forever on Android; imported as repeats for {repeat_for}"
        )
    return shape


def _amplitude(f: Fields, value: object, i: int) -> int:
    if value == -1:
        return -1
    number = f.number(value, f"amplitudes[{i}]", 0, 255)
    if number != int(number):
        raise f.fail(f"amplitudes[{i}]", f"must be a whole number from 0 to 255, got {value!r}")
    return int(number)


def _play(shape: Shape, durations: list[int], amplitudes: list[int]) -> None:
    t = shape.points[-1][0]
    for duration, amplitude in zip(durations, amplitudes, strict=True):
        shape.jump(t, 1.0 if amplitude == -1 else amplitude / 255)
        t += duration
    shape.jump(t, shape.points[-1][1])
