"""`python -m bench.profiled OUT` runs `python -m bot` under cProfile timed by the event-loop
thread's own CPU time (not wall time), so the stats written to OUT on a clean exit say where the
loop's CPU per answer goes (`bench --profile OUT`). Profiling starts at SIGUSR1, which the bench
sends once the bot is ready: start-up's imports are not what an answer costs."""

from __future__ import annotations

import cProfile
import runpy
import signal
import sys
import time


def main() -> None:
    out = sys.argv[1]
    sys.argv = ["bot"]
    profile = cProfile.Profile(time.thread_time)
    signal.signal(signal.SIGUSR1, lambda *_: profile.enable())
    try:
        runpy.run_module("bot", run_name="__main__")
    except SystemExit:
        pass
    finally:
        profile.disable()
        profile.dump_stats(out)


if __name__ == "__main__":
    main()
