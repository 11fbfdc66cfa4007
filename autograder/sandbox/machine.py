"""How busy this machine is, for wall-clock limits that survive a shared machine.

    factor = machine.slowness(config)   # 1.0 on an idle machine, up to config.max_load_scale

Every time limit of a grading (its budget, each call's limit) is wall-clock time. On two
cores shared with four other CPU-bound processes every process runs about three times
slower, the reference and the student's code alike, so the grading's fixed 60 s budget
ran out while every per-case limit (a multiple of the reference's own time) held. The
limits are therefore multiplied by the machine's load per usable CPU, measured once
before the student's process starts (so the submission cannot raise it for itself), at
least 1 and at most config.max_load_scale (1 turns the scaling off).
"""
import os
from pathlib import Path

CPU_MAX = Path("/sys/fs/cgroup/cpu.max")  # cgroup v2: "<quota> <period>" or "max <period>"


def usable_cpus() -> float:
    """The CPUs this process may use: its affinity, or less under a cgroup CPU quota."""
    try:
        cpus = float(len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # macOS, Windows
        cpus = float(os.cpu_count() or 1)
    try:
        quota, period = CPU_MAX.read_text().split()[:2]
        if quota != "max":
            cpus = min(cpus, max(int(quota) / int(period), 0.1))
    except (OSError, ValueError):
        pass
    return cpus


def load_per_cpu() -> float:
    """The 1-minute load average per usable CPU (0 where the OS does not say)."""
    try:
        return os.getloadavg()[0] / usable_cpus()
    except (AttributeError, OSError):
        return 0.0


def slowness(config) -> float:
    """The factor every wall-clock limit of one grading is multiplied by."""
    cap = max(float(getattr(config, "max_load_scale", 1.0)), 1.0)
    return min(max(load_per_cpu(), 1.0), cap)


def scaled(config):
    """config with its budget and per-call limits multiplied by slowness(config), and
    the factor recorded in load_scale (1.0: the machine was not busy)."""
    import dataclasses

    factor = slowness(config)
    if factor == 1.0:
        return config
    return dataclasses.replace(config, time_budget=config.time_budget * factor,
                               timeout_scale=config.timeout_scale * factor,
                               load_scale=factor)
