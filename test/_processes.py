"""Processes found by a mark in their environment: what a test started, wherever it ended up.

A child's environment is inherited and never changes hands, so a variable set for a launch (or a
test session) still marks a node that launch left behind and init has adopted. Linux /proc;
only this user's processes are readable, which are the only ones a test can start.
"""
from __future__ import annotations

import os
from pathlib import Path


def marked_processes(name: str, value: str) -> dict[int, str]:
    """PID -> command line of every live process (not this one) whose environment has
    ``name=value``; zombies have no environment left and are not listed."""
    entry = f"{name}={value}".encode()
    found = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            if entry not in (proc / "environ").read_bytes().split(b"\0"):
                continue
            command = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(
                errors="replace").strip()
        except OSError:  # another user's process, or one that ended meanwhile
            continue
        found[int(proc.name)] = command
    return found
