"""Wall-clock limits grow on a busy machine (autograder/sandbox/machine.py), within a cap."""
import dataclasses
import os

import pytest

from autograder.sandbox import machine
from autograder.config import DEFAULT


@pytest.fixture
def two_cpus(monkeypatch, tmp_path):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    monkeypatch.setattr(machine, "CPU_MAX", tmp_path / "absent")
    return monkeypatch


@pytest.mark.parametrize("load, factor", [(0.3, 1.0), (2.0, 1.0), (6.0, 3.0), (40.0, 4.0)])
def test_the_factor_is_the_load_per_cpu_between_1_and_the_cap(two_cpus, load, factor):
    two_cpus.setattr(os, "getloadavg", lambda: (load, 0.0, 0.0))
    assert machine.slowness(DEFAULT) == pytest.approx(factor)


def test_a_cgroup_quota_counts_as_fewer_cpus(two_cpus, tmp_path):
    (tmp_path / "cpu.max").write_text("50000 100000\n")
    two_cpus.setattr(machine, "CPU_MAX", tmp_path / "cpu.max")
    two_cpus.setattr(os, "getloadavg", lambda: (1.0, 0.0, 0.0))
    assert machine.usable_cpus() == pytest.approx(0.5)
    assert machine.slowness(DEFAULT) == pytest.approx(2.0)


def test_no_load_average_means_no_scaling(two_cpus):
    def refuse():
        raise OSError("not here")
    two_cpus.setattr(os, "getloadavg", refuse)
    assert machine.scaled(DEFAULT) is DEFAULT


def test_scaled_multiplies_the_budget_and_every_call_limit(two_cpus):
    two_cpus.setattr(os, "getloadavg", lambda: (5.0, 0.0, 0.0))
    config = machine.scaled(DEFAULT)
    assert config.load_scale == pytest.approx(2.5)
    assert config.time_budget == pytest.approx(DEFAULT.time_budget * 2.5)
    assert config.timeout_scale == pytest.approx(DEFAULT.timeout_scale * 2.5)


def test_a_cap_of_1_turns_it_off(two_cpus):
    two_cpus.setattr(os, "getloadavg", lambda: (50.0, 0.0, 0.0))
    off = dataclasses.replace(DEFAULT, max_load_scale=1.0)
    assert machine.scaled(off) is off
