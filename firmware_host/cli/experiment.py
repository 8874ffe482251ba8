"""``pc6 experiment plan | status | analyze | unblind | stop`` and ``pc6 sim experiment``.

Does it help *me* sleep? The device allocates nights at random, hides which is which, and
the wearer reports each morning (``pc6 diary``). See the README's four-week walk-through.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from firmware_host.errors import InvalidInput


def register(sub: Any) -> None:
    """Add ``pc6 experiment`` to the ``pc6`` subcommands."""
    exp = sub.add_parser("experiment", help="randomized, blinded nights: does it help you?")
    actions = exp.add_subparsers(dest="action", metavar="ACTION", required=True)
    plan = actions.add_parser("plan", help="allocate nights at random and commit to it")
    plan.add_argument("name")
    plan.add_argument("--active", required=True, metavar="PROFILE")
    plan.add_argument("--control", required=True, metavar="off|PROFILE")
    plan.add_argument("--nights", required=True, type=int, metavar="N", help="randomized nights")
    plan.add_argument("--run-in", type=int, default=0, metavar="K", help="diary-only nights first")
    plan.add_argument("--blocks", type=int, default=2, choices=[2, 4])
    plan.add_argument(
        "--outcome", required=True, choices=["sol", "waso", "se", "tst", "quality", "awakenings"]
    )
    plan.add_argument("--better", required=True, choices=["lower", "higher"])
    plan.add_argument(
        "--meaningful", type=float, metavar="X", help="the smallest change that matters to you"
    )
    plan.add_argument("--blind", action="store_true", help="hide each night's arm until unblind")
    plan.add_argument("--start", metavar="YYYY-MM-DD", help="the first night (default: tonight)")
    _common(plan)
    plan.set_defaults(handler=_cmd_plan)
    for name, text, handler in (
        ("status", "how far an experiment is, without naming arms", _cmd_status),
        ("unblind", "reveal and verify the schedule against its commitment", _cmd_unblind),
        ("stop", "end an experiment early (its nights so far stay)", _cmd_stop),
    ):
        p = actions.add_parser(name, help=text)
        p.add_argument("name", nargs="?" if name == "status" else None)
        _common(p)
        p.set_defaults(handler=handler)
    analyze = actions.add_parser("analyze", help="the estimate, intervals and honest words")
    analyze.add_argument("name")
    analyze.add_argument("--outcome", choices=["sol", "waso", "se", "tst", "quality", "awakenings"])
    analyze.add_argument("--source", default="diary", help="diary (default) or an imported source")
    analyze.add_argument("--width", type=float, metavar="X", help="interval width to plan for")
    analyze.add_argument("--csv", metavar="FILE", help="write the nights as CSV")
    analyze.add_argument("--plot", metavar="OUT.png", help="draw the nights and the difference")
    _common(analyze)
    analyze.set_defaults(handler=_cmd_analyze)


def register_sim(simsub: Any) -> None:
    """Add ``pc6 sim experiment``."""
    sim = simsub.add_parser("experiment", help="check the analysis against a known truth")
    sim.add_argument("--runs", type=int, default=400)
    sim.add_argument("--nights", type=int, default=56)
    sim.add_argument("--effect", type=float, default=0.0, help="true benefit, outcome units")
    sim.add_argument("--sd", type=float, default=20.0, help="night-to-night SD")
    sim.add_argument("--autocorr", type=float, default=0.0, help="AR(1) correlation of nights")
    sim.add_argument("--blocks", type=int, default=2, choices=[2, 4])
    sim.add_argument("--seed", type=int, default=1)
    sim.add_argument(
        "--end-to-end", action="store_true", help="one run through daemon, journal, diary"
    )
    sim.add_argument("--run-in", type=int, default=0, help="run-in nights (end to end)")
    sim.add_argument("--meaningful", type=float, help="the threshold that matters (end to end)")
    sim.set_defaults(handler=_cmd_sim)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", metavar="FILE", help="config (time zone, journal, backend)")
    p.add_argument("--journal", metavar="PATH")


def _context(args: argparse.Namespace) -> tuple[Any, Any]:
    from pathlib import Path

    from firmware_host.experiment.store import Store
    from firmware_host.session.config import load_config

    config = load_config(args.config, missing_ok=args.config is None)
    path = Path(args.journal) if args.journal else config.journal
    return config, Store(path)


def _find(store: Any, name: str | None) -> Any:
    exps = store.experiments()
    if name is None:
        if not exps:
            raise InvalidInput("no experiment yet: pc6 experiment plan NAME ...")
        return exps[-1]
    for e in exps:
        if e.name == name:
            return e
    known = ", ".join(e.name for e in exps) or "none"
    raise InvalidInput(f"no experiment named {name!r} (known: {known})")


def _cmd_plan(args: argparse.Namespace) -> int:
    import datetime as dt
    import time

    from firmware_host.experiment.plan import Request, plan
    from firmware_host.plan.schedule import night_of

    config, store = _context(args)
    now = time.time()
    today = night_of(now, config.tz)
    try:
        start = dt.date.fromisoformat(args.start) if args.start else today
    except ValueError:
        raise InvalidInput(f"--start: must be a date like 2026-03-29, got {args.start!r}") from None
    request = Request(
        args.name,
        args.active,
        args.control,
        args.nights,
        args.run_in,
        args.blocks,
        args.outcome,
        args.better,
        args.meaningful,
        args.blind,
        start,
    )
    with store:
        planned = plan(
            request,
            store,
            kind=config.kind,
            limits=config.limits_for(config.kind),
            dirs=config.profile_dirs,
            now=now,
            today=today,
        )
    e = planned.experiment
    first, last = planned.schedule[0][0], planned.schedule[-1][0]
    print(
        f"planned {e.name}: {e.active} vs {e.control}, {e.nights} randomized nights in "
        f"{'pairs' if e.block == 2 else 'blocks of 4'}, {e.run_in} run-in nights first"
    )
    print(
        f"  nights {first} to {last}; outcome {e.outcome} ({e.better} is better)"
        f"{', blind' if e.blind else ''}"
    )
    print(f"  commitment (SHA-256 of the plan, schedule and secret seed): {e.commitment}")
    print("  keep that line: `pc6 experiment unblind` checks the schedule against it")
    for note in planned.notes:
        print(f"  note: {note}")
    print("  add to the config, in place of the evening's profile:")
    print(f'    [[schedule]]\n    at = "22:30"\n    experiment = "{e.name}"')
    print("  then each morning, within an hour of getting up: pc6 diary")
    if e.blind:
        print(
            "  honest limit: a pre-sleep profile you feel while awake cannot be truly blinded;"
            " the diary asks for your guess and the analysis reports how often it was right"
        )
    return 0


def _cmd_status(args: argparse.Namespace) -> int:
    import time

    from firmware_host.experiment.status import status_text

    config, store = _context(args)
    with store:
        exp = _find(store, args.name)
        print(status_text(store, exp, config.tz, time.time()))
    return 0


def _reasons(store: Any) -> tuple[dict[int, str | None], dict[int, str]]:
    from firmware_host.record.journal import Journal

    with Journal(store.path) as journal:
        rows = journal.recent(10**9)
    return {r.id: r.reason for r in rows}, {r.id: r.profile for r in rows}


def _cmd_analyze(args: argparse.Namespace) -> int:
    from firmware_host.experiment import analysis

    _, store = _context(args)
    with store:
        exp = _find(store, args.name)
        if exp.blinded:
            raise InvalidInput(
                f"{exp.name} is still blind: the analysis names the arms. After the last night"
                f" (or `pc6 experiment stop {exp.name}`), run `pc6 experiment unblind {exp.name}`"
            )
        if (
            args.outcome
            and args.source != "diary"
            and args.outcome not in analysis.TRACKER_OUTCOMES
        ):
            raise InvalidInput(f"--outcome: a tracker gives {', '.join(analysis.TRACKER_OUTCOMES)}")
        reasons, _ = _reasons(store)
        result = analysis.analyse(
            store, exp, reasons, outcome=args.outcome, source=args.source, width=args.width
        )
    print(analysis.describe(result))
    if args.csv:
        _write_csv(args.csv, analysis.csv_rows(result))
    if args.plot:
        try:
            analysis.plot(result, args.plot)
        except OSError as err:
            raise InvalidInput(f"--plot: cannot write {args.plot}: {err.strerror}") from err
        print(f"wrote {args.plot}")
    return 0


def _write_csv(target: str, rows: list[list[Any]]) -> None:
    import csv

    try:
        with open(target, "w", newline="", encoding="utf-8") as out:
            csv.writer(out).writerows(rows)
    except OSError as err:
        raise InvalidInput(f"--csv: cannot write {target}: {err.strerror}") from err
    print(f"wrote {target}")


def _cmd_unblind(args: argparse.Namespace) -> int:
    import time

    from firmware_host.experiment.plan import last_night
    from firmware_host.experiment.unblind import WORD, verify
    from firmware_host.plan.schedule import night_of

    config, store = _context(args)
    with store:
        exp = _find(store, args.name)
        last = last_night(exp)
        if exp.state == "planned" and night_of(time.time(), config.tz) <= last:
            raise InvalidInput(
                f"{exp.name} runs until the night of {last}; stop it first"
                f" (pc6 experiment stop {exp.name}) to unblind early"
            )
        _, profiles = _reasons(store)
        verdict = verify(store, exp, profiles)
        if exp.state != "unblinded":
            store.set_state(exp.name, "unblinded", at=time.time())
    print(f"{exp.name}: seed {exp.seed}")
    print(f"  commitment {exp.commitment}")
    for night, letter in verdict.schedule:
        print(f"  {night}  {WORD[letter]}")
    if verdict.ok:
        print(
            "verified: the schedule re-derived from the seed equals the one stored and run,"
            " and matches the commitment"
        )
        return 0
    for problem in verdict.problems:
        print(f"MISMATCH: {problem}")
    return 1


def _cmd_stop(args: argparse.Namespace) -> int:
    import time

    _, store = _context(args)
    with store:
        exp = _find(store, args.name)
        if exp.state != "planned":
            print(f"{exp.name} is already {exp.state}")
            return 0
        store.set_state(exp.name, "stopped", at=time.time())
    print(f"stopped {exp.name}: no more experiment nights; its nights so far stay for the analysis")
    return 0


#: Bounds of ``pc6 sim experiment``: each simulated night is a few floats in memory.
MAX_RUNS = 100_000
MAX_NIGHTS = 3650
MAX_SIMULATED_NIGHTS = 20_000_000


def _cmd_sim(args: argparse.Namespace) -> int:
    import time

    from firmware_host.experiment.simulate import Model, simulate

    if not 1 <= args.runs <= MAX_RUNS:  # each run is an array of nights: bound the memory
        raise InvalidInput(f"--runs: must be from 1 to {MAX_RUNS}, got {args.runs}")
    if not 1 <= args.nights <= MAX_NIGHTS:
        raise InvalidInput(f"--nights: must be from 1 to {MAX_NIGHTS}, got {args.nights}")
    if args.runs * args.nights > MAX_SIMULATED_NIGHTS:
        raise InvalidInput(
            f"--runs × --nights: at most {MAX_SIMULATED_NIGHTS:,} simulated nights,"
            f" got {args.runs * args.nights:,}"
        )
    if args.nights < args.blocks or args.nights % args.blocks:
        raise InvalidInput(f"--nights: must be a positive multiple of {args.blocks}")
    if not 0 <= args.autocorr < 1:
        raise InvalidInput(f"--autocorr: must be from 0 to below 1, got {args.autocorr:g}")
    if not args.sd > 0:
        raise InvalidInput(f"--sd: must be above 0, got {args.sd:g}")
    model = Model(effect=args.effect, sd=args.sd, autocorr=args.autocorr)
    if args.end_to_end:
        from firmware_host.service.experiment_sim import run_end_to_end

        started = time.perf_counter()
        text = run_end_to_end(
            model,
            nights=args.nights,
            block=args.blocks,
            seed=args.seed,
            run_in=args.run_in,
            meaningful=args.meaningful,
        )
        print(text)
        print(f"end to end: {time.perf_counter() - started:.1f} s")
    started = time.perf_counter()
    s = simulate(model, runs=args.runs, nights=args.nights, block=args.blocks, seed=args.seed)
    print(
        f"SIMULATED: {s.runs} experiments of {args.nights} nights, true benefit {args.effect:g},"
        f" SD {args.sd:g}, AR(1) {args.autocorr:g}, in {time.perf_counter() - started:.1f} s"
    )
    print(f"paired-t coverage {s.t_coverage:.3f}; mean interval width {s.mean_width:.1f}")
    sys.stdout.write(f"coverage {s.coverage:.3f} rejection {s.rejection:.3f}\n")
    return 0
