"""``pc6 experiment analyze``: the estimate, its intervals, and honest words about them.

The primary analysis is as allocated: every complete block (each of its nights has the
outcome), whatever the band did that night. Adherence as delivered comes from the journal:
a night counts as delivered when a session of the allocated arm ran to its end.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field, replace
from typing import Any

from firmware_host.experiment import diary as diary_mod
from firmware_host.experiment.design import ACTIVE, CONTROL, RUN_IN
from firmware_host.experiment.plan import NATURAL_BETTER, OUTCOME_WORDS
from firmware_host.experiment.stats import ALPHA, MIN_PAIRS, Batch, analyse_batch
from firmware_host.experiment.store import Experiment, Store
from firmware_host.experiment.tdist import normal_cdf, t_quantile

TRACKER_OUTCOMES = ("sol", "waso", "se", "tst")


@dataclass
class Night:
    """One allocated night and what is known about it."""

    night: str
    letter: str
    block: int | None
    value: float | None
    delivered: str  # completed, partial, none ("-" on run-in nights)
    guess: str | None
    extra: dict[str, float] = field(default_factory=dict)


@dataclass
class Analysis:
    """Everything ``analyze`` prints, as numbers."""

    experiment: Experiment
    outcome: str
    source: str
    nights: list[Night]
    complete: int  # complete blocks
    batch: Batch | None
    harms: dict[str, Batch | None]
    blinding: dict[str, float | None]
    delivered: int
    allocated: int
    width: float | None
    more_nights: int | None
    chance_meaningful: float | None
    run_in_sd: float | None
    better: str = "lower"
    as_delivered: Batch | None = None  # blocks whose every session ran to its end
    delivered_blocks: int = 0

    @property
    def primary(self) -> bool:
        """Whether this is the outcome declared at plan time."""
        return self.outcome == self.experiment.outcome


def night_rows(
    store: Store, exp: Experiment, outcome: str, source: str, reasons: dict[int, str | None]
) -> list[Night]:
    """The experiment's nights with the outcome (diary or a tracker source) and delivery."""
    diaries = store.diaries()
    tracker = {t.night: t for t in store.tracker(source)} if source != "diary" else {}
    by_night: dict[str, list[tuple[str, str | None]]] = {}
    for sid, night, arm, _ in store.sessions(exp.name):
        by_night.setdefault(night, []).append((arm, reasons.get(sid)))
    rows = []
    for i, (night, letter) in enumerate(store.nights(exp.name)):
        block = None if letter == RUN_IN else (i - exp.run_in) // exp.block
        d = diaries.get(night)
        values = diary_mod.outcomes(d) if d else {}
        if source != "diary":
            t = tracker.get(night)
            values = {
                k: v for k in TRACKER_OUTCOMES if t and (v := _tracker_value(t, k)) is not None
            }
        ran = [(arm, reason) for arm, reason in by_night.get(night, []) if arm == letter]
        delivered = "-" if letter == RUN_IN else _delivery(ran)
        rows.append(
            Night(
                night,
                letter,
                block,
                values.get(outcome),
                delivered,
                d["guess"] if d else None,
                values,
            )
        )
    return rows


def _tracker_value(t: Any, key: str) -> float | None:
    return {"sol": t.sol_min, "waso": t.waso_min, "se": t.se, "tst": t.tst_min}[key]


def _delivery(ran: list[tuple[str, str | None]]) -> str:
    if any(reason == "completed" for _, reason in ran):
        return "completed"
    return "partial" if ran else "none"


def blocks_of(nights: list[Night], size: int, key: str | None = None) -> tuple[Any, Any]:
    """Complete blocks as arrays ``(1, k, size)`` of outcomes and active flags."""
    import numpy as np

    grouped: dict[int, list[Night]] = {}
    for n in nights:
        if n.block is not None:
            grouped.setdefault(n.block, []).append(n)
    ys, as_ = [], []
    for _, group in sorted(grouped.items()):
        values = [n.value if key is None else n.extra.get(key) for n in group]
        if len(group) == size and all(v is not None for v in values):
            ys.append(values)
            as_.append([1.0 if n.letter == ACTIVE else 0.0 for n in group])
    return np.array(ys, dtype=float).reshape(1, -1, size), np.array(as_).reshape(1, -1, size)


def enough(k: int, size: int) -> bool:
    """Whether a 5 % test is possible at all: k blocks, and at least 6 pairs' worth."""
    options = 2 if size == 2 else 6
    return k * size >= 2 * MIN_PAIRS and 2 / options**k < ALPHA


def bang_index(nights: list[Night]) -> dict[str, float | None]:
    """Bang's blinding index per arm: (correct − wrong) / guesses; 0 = chance, 1 = unblinded."""
    out: dict[str, float | None] = {}
    for letter, word in ((ACTIVE, "active"), (CONTROL, "control")):
        guesses = [n.guess for n in nights if n.letter == letter and n.guess]
        if not guesses:
            out[word] = None
            continue
        right = sum(g == word for g in guesses)
        wrong = sum(g not in (word, "unsure") for g in guesses)
        out[word] = (right - wrong) / len(guesses)
    return out


def analyse(
    store: Store,
    exp: Experiment,
    reasons: dict[int, str | None],
    *,
    outcome: str | None = None,
    source: str = "diary",
    width: float | None = None,
    seed: int = 0,
) -> Analysis:
    """Analyse an experiment from the store and the journal's session outcomes."""
    import numpy as np

    outcome = outcome or exp.outcome
    primary = outcome == exp.outcome
    better = exp.better if primary else NATURAL_BETTER[outcome]
    nights = night_rows(store, exp, outcome, source, reasons)
    y, a = blocks_of(nights, exp.block)
    k = y.shape[1]
    batch = analyse_batch(y, a, seed=seed) if enough(k, exp.block) else None
    harms: dict[str, Batch | None] = {}
    for key in ("awakenings", "quality"):
        hy, ha = blocks_of(nights, exp.block, key)
        harms[key] = analyse_batch(hy, ha, seed=seed) if enough(hy.shape[1], exp.block) else None
    allocated = [n for n in nights if n.letter != RUN_IN]
    kept = [n if n.delivered in ("completed", "-") else replace(n, value=None) for n in nights]
    dy, da = blocks_of(kept, exp.block)
    as_delivered = analyse_batch(dy, da, seed=seed) if enough(dy.shape[1], exp.block) else None
    run_in = [n.value for n in nights if n.letter == RUN_IN and n.value is not None]
    meaningful = exp.meaningful if primary else None  # the threshold was for the primary
    width = width if width is not None else meaningful
    more = chance = None
    if batch is not None:
        sd = float(batch.sd_diff[0])
        if width:
            need = _blocks_for_width(sd, width)
            more = max(0, need - k) * exp.block
        if meaningful:
            chance = sceptical_chance(
                float(batch.estimate[0]), sd / math.sqrt(k), meaningful, better
            )
    return Analysis(
        experiment=exp,
        outcome=outcome,
        source=source,
        nights=nights,
        complete=k,
        batch=batch,
        harms=harms,
        blinding=bang_index(allocated),
        delivered=sum(n.delivered == "completed" for n in allocated),
        allocated=len(allocated),
        width=width,
        more_nights=more,
        chance_meaningful=chance,
        run_in_sd=float(np.std(run_in, ddof=1)) if len(run_in) > 2 else None,
        better=better,
        as_delivered=as_delivered,
        delivered_blocks=dy.shape[1],
    )


def _blocks_for_width(sd: float, width: float) -> int:
    """Complete blocks whose paired-t interval would be ``width`` wide at this SD."""
    k = max(2, math.ceil((2 * 1.96 * sd / width) ** 2))
    while 2 * t_quantile(0.975, k - 1) * sd / math.sqrt(k) > width:
        k += 1
    return k


def sceptical_chance(estimate: float, se: float, meaningful: float, better: str) -> float:
    """P(benefit ≥ meaningful) under a sceptical prior.

    The prior is centred on no effect with a 5 % chance of a benefit beyond ``meaningful``
    (normal, SD = meaningful / 1.645); the data enter as a normal likelihood.
    """
    benefit = -estimate if better == "lower" else estimate
    tau = meaningful / 1.6449
    if se <= 0:
        return 1.0 if benefit >= meaningful else 0.0
    w = tau * tau / (tau * tau + se * se)
    mean, sd = w * benefit, math.sqrt(w) * se
    return 1 - normal_cdf((meaningful - mean) / sd)


# -- words ----------------------------------------------------------------------------


def _f(x: float) -> str:
    return f"{x:+.1f}".replace("-", "−")


def _f2(x: float) -> str:
    return f"{x:+.2f}".replace("-", "−")


def _p(p: float, b: Batch) -> str:
    smallest = 2 / b.arrangements if b.exact else 1 / (b.arrangements + 1)  # obs and mirror
    if p <= smallest * 1.000001:
        return f"p = {p:.2g}, the smallest these arrangements can give"
    return f"p = {p:.3f}" if p >= 0.001 else f"p = {p:.2g}"


def describe(r: Analysis) -> str:
    """The analysis as a person reads it."""
    e = r.experiment
    unit = OUTCOME_WORDS[r.outcome]
    src = "the diary" if r.source == "diary" else f"{r.source} (the device's estimate)"
    arms = "pairs" if e.block == 2 else "blocks of 4"
    allocated = r.allocated
    have = sum(n.value is not None for n in r.nights if n.letter != RUN_IN)
    lines = [
        f"Experiment {e.name}: {e.active} vs {e.control}, {e.nights} randomized nights in"
        f" {arms} after {e.run_in} run-in nights",
        f"Outcome: {unit} ({r.outcome}), {r.better} is better; from {src}"
        + ("" if r.primary else f" — a secondary outcome; {e.outcome} was declared in advance"),
        f"Nights: {allocated} allocated, {have} with the outcome, {allocated - have} missing;"
        f" complete {arms}: {r.complete} of {e.nights // e.block}",
        f"Adherence: as allocated {have}/{allocated} nights analysable; as delivered"
        f" {r.delivered}/{allocated} sessions of the allocated arm ran to their end",
    ]
    for letter, word in ((ACTIVE, "active"), (CONTROL, "control")):
        vals = [n.value for n in r.nights if n.letter == letter and n.value is not None]
        if vals:
            lines.append(
                f"{word.capitalize():<8} nights: mean {sum(vals) / len(vals):.1f} (n {len(vals)})"
            )
    if r.run_in_sd is not None:
        lines.append(f"Run-in night-to-night SD: {r.run_in_sd:.1f}")
    b = r.batch
    if b is None:
        k = r.complete
        smallest = 2 / (2 if e.block == 2 else 6) ** k if k else 1.0
        lines.append(
            f"With {k} complete {arms} the smallest possible p-value is {smallest:.3g}"
            f" (2/{2 if e.block == 2 else 6}^{k}): no test and no interval, only the"
            " description above. It takes at least 6 complete pairs."
        )
        return "\n".join(lines)
    est, lo, hi = float(b.estimate[0]), float(b.low[0]), float(b.high[0])
    how = (
        f"exact, {b.arrangements:,} arrangements"
        if b.exact
        else f"{b.arrangements:,} random arrangements"
    )
    lines += [
        f"Difference (active − control), mean within-block: {_f(est)}",
        f"Randomization test ({how}): {_p(float(b.p[0]), b)}",
        f"95 % interval (inverted randomization test): {_f(lo)} to {_f(hi)}",
        f"95 % interval (paired t, beside it):          {_f(float(b.t_low[0]))}"
        f" to {_f(float(b.t_high[0]))}",
    ]
    d = r.as_delivered
    if r.delivered < r.allocated:
        if d is None:
            text = "too few to analyse"
        else:
            text = (
                f"difference {_f(float(d.estimate[0]))},"
                f" interval {_f(float(d.low[0]))} to {_f(float(d.high[0]))}"
            )
        lines.append(
            f"As delivered ({r.delivered_blocks} blocks where every session ran to its end): {text}"
        )
    if r.chance_meaningful is not None:
        lines.append(
            f"Chance the benefit is at least {e.meaningful:g} (sceptical prior):"
            f" {100 * r.chance_meaningful:.0f} %"
        )
    lines += _harm_lines(r)
    blind = ", ".join(f"{arm} {'—' if v is None else _f2(v)}" for arm, v in r.blinding.items())
    lines.append(f"Blinding (Bang's index; 0 = guesses no better than chance): {blind}")
    if r.more_nights is not None and r.width:
        lines.append(
            f"To narrow the interval to {r.width:g} wide at this variability: about"
            f" {r.more_nights} more nights"
        )
    lines.append("In words: " + _words(r, est, lo, hi))
    return "\n".join(lines)


def _harm_lines(r: Analysis) -> list[str]:
    out = []
    for key, worse in (("awakenings", 1), ("quality", -1)):
        b = r.harms.get(key)
        if b is None:
            out.append(f"Harm check, {key}: too few complete blocks to say")
            continue
        est, lo, hi = float(b.estimate[0]), float(b.low[0]), float(b.high[0])
        harmful = lo > 0 if worse > 0 else hi < 0
        verdict = (
            "worse on active nights beyond chance: consider stopping"
            if harmful
            else "no clear sign of harm (which does not rule harm out)"
        )
        out.append(f"Harm check, {key}: {_f(est)} ({_f(lo)} to {_f(hi)}): {verdict}")
    return out


def _words(r: Analysis, est: float, lo: float, hi: float) -> str:
    lower = r.better == "lower"
    better = (hi < 0) if lower else (lo > 0)
    worse = (lo > 0) if lower else (hi < 0)
    if better:
        text = (
            f"on these nights the outcome was better on active nights, by {abs(est):.1f}"
            f" (interval {_f(lo)} to {_f(hi)})."
        )
    elif worse:
        text = f"on these nights the outcome was worse on active nights, by {abs(est):.1f}."
    else:
        text = (
            "the interval includes no difference: these nights cannot tell whether the"
            " band changes this outcome for you."
        )
    return (
        text + " One person, one stretch of nights; an effect of expectation is not ruled"
        " out where the stimulation can be felt. This is a measurement, not a treatment claim."
    )


def csv_rows(r: Analysis) -> list[list[Any]]:
    """Per-night rows for ``--csv``."""
    head = ["night", "arm", "block", r.outcome, "delivered", "guess"]
    word = {ACTIVE: "active", CONTROL: "control", RUN_IN: "run-in"}
    return [head] + [
        [
            n.night,
            word[n.letter],
            "" if n.block is None else n.block,
            "" if n.value is None else round(n.value, 2),
            n.delivered,
            n.guess or "",
        ]
        for n in r.nights
    ]


def plot(r: Analysis, out: str) -> None:
    """Both arms' nights over time, and the block differences with the interval."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 6))
    for letter, word, colour in (
        (ACTIVE, "active", "tab:orange"),
        (CONTROL, "control", "tab:blue"),
        (RUN_IN, "run-in", "grey"),
    ):
        pts = [
            (dt.date.fromisoformat(n.night), n.value)
            for n in r.nights
            if n.letter == letter and n.value is not None
        ]
        if pts:
            top.plot(
                [p[0] for p in pts],
                [p[1] for p in pts],
                "o",
                color=colour,
                label=word,
                markersize=4,
            )
    top.set_ylabel(OUTCOME_WORDS[r.outcome])
    top.legend(fontsize=8)
    top.set_title(f"experiment {r.experiment.name}: nights by arm")
    y, a = blocks_of(r.nights, r.experiment.block)
    diffs = (y[0] * (2 * a[0] - 1) / (r.experiment.block // 2)).sum(axis=1) if y.shape[1] else []
    bottom.plot(
        range(1, len(diffs) + 1), diffs, "o", color="black", markersize=4, label="block difference"
    )
    bottom.axhline(0, color="grey", linewidth=0.8)
    if r.batch is not None:
        b = r.batch
        bottom.axhline(float(b.estimate[0]), color="tab:red", label="mean difference")
        bottom.axhspan(
            float(b.low[0]), float(b.high[0]), color="tab:red", alpha=0.15, label="95 % interval"
        )
    bottom.set_xlabel("complete block")
    bottom.set_ylabel("active − control")
    bottom.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
