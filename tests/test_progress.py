"""``memsim.cli.progress``: long commands show a bar to a person at a terminal, nothing else."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from memsim.cli import app

SCENARIOS = Path(__file__).resolve().parents[1] / "configs" / "scenarios"


def test_run_progress_only_when_both_streams_are_terminals(monkeypatch, tmp_path):
    """`memsim run` of many frames: a bar at a terminal, none in a pipe or under --json."""
    import memsim.cli.progress as progress
    import memsim.engine.run as engine_run

    seen = []
    real = engine_run.simulate
    monkeypatch.setattr(engine_run, "simulate", lambda *a, **k: seen.append(k.get("progress")) or real(*a, **k))
    args = ["run", str(SCENARIOS / "kws-stm32h743.yaml"), "--set", "streams.0.frames=2", "--no-save"]
    for tty, extra in ((False, []), (True, ["--json"]), (True, [])):
        monkeypatch.setattr(progress, "interactive", lambda tty=tty: tty)
        res = CliRunner().invoke(app, [*args, *extra])
        assert res.exit_code == 0, res.output
    assert seen[0] is None and seen[1] is None and callable(seen[2])
