"""How many `worker-ai` processes the launchers start: AI_WORKER_PROCESSES, else one per core."""

from __future__ import annotations

import pytest

from workers.sizing import AI_WORKER_PROCESSES_MAX, ai_worker_processes, default_ai_worker_processes


def test_the_default_is_one_per_core_and_at_least_one() -> None:
    """One core still gets a worker-ai; a second core gets a second process (the GIL binds one first)."""
    assert default_ai_worker_processes(0) == 1
    assert default_ai_worker_processes(1) == 1
    assert default_ai_worker_processes(2) == 2
    for cores in range(2, AI_WORKER_PROCESSES_MAX + 1):
        assert default_ai_worker_processes(cores) == cores


def test_the_default_stops_growing_at_the_cap() -> None:
    """A large machine gets no more processes than the database connections allow."""
    assert default_ai_worker_processes(256) == AI_WORKER_PROCESSES_MAX
    assert default_ai_worker_processes(AI_WORKER_PROCESSES_MAX) == AI_WORKER_PROCESSES_MAX


def test_an_unset_or_empty_setting_takes_the_default_for_the_cores() -> None:
    assert ai_worker_processes({}, cores=6) == default_ai_worker_processes(6)
    assert ai_worker_processes({"AI_WORKER_PROCESSES": " "}, cores=6) == default_ai_worker_processes(6)


def test_a_set_count_wins_over_the_cores_and_the_cap() -> None:
    """An operator who asks for processes gets them, on a small machine and past the default's cap."""
    assert ai_worker_processes({"AI_WORKER_PROCESSES": "3"}, cores=1) == 3
    assert ai_worker_processes({"AI_WORKER_PROCESSES": "12"}, cores=64) == 12


@pytest.mark.parametrize("raw", ["0", "-2", "two", "1.5"])
def test_a_count_that_is_no_whole_number_of_at_least_one_is_refused(raw: str) -> None:
    """A launcher refuses to start rather than run no worker-ai at all."""
    with pytest.raises(ValueError, match="AI_WORKER_PROCESSES"):
        ai_worker_processes({"AI_WORKER_PROCESSES": raw}, cores=8)
