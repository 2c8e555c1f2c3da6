"""Time the offline render of each example stack against a minimal Pulumi program.

    python -m tools.bench [--repeat N] [--limit RATIO]

Each measurement is a fresh process (imports included), best of N. The target is
that every example stack renders in at most 2x the minimal program (pulumi +
pulumi_kubernetes, one resource); exit 1 if one does not.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tools.offline import PROGRAM, REPO, run_program
from tools.render import write_render

EXAMPLE_STACKS = ("example-gke", "example-magnum", "example-kubeadm", "local")
MINIMAL = "minimal"
MINIMAL_PROGRAM = Path(__file__).with_name("minimal_program.py")


def _render_once(name: str, out: Path) -> None:
    """The measured work, in the child process: one offline run written to `out`."""
    program = MINIMAL_PROGRAM if name == MINIMAL else PROGRAM
    stack = "local" if name == MINIMAL else name  # the minimal program ignores its settings
    write_render(run_program(stack, program=program), out)


def best_time(name: str, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as out:
            started = time.perf_counter()
            subprocess.run([sys.executable, "-m", "tools.bench", "--child", name, out], cwd=REPO, check=True)
            times.append(time.perf_counter() - started)
    return min(times)


def measure(repeat: int) -> dict[str, float]:
    """Each example stack's render time as a multiple of the minimal program's, printed as it goes."""
    baseline = best_time(MINIMAL, repeat)
    print(f"{'minimal program':<18} {baseline:6.2f}s   1.00x")
    ratios = {}
    for stack in EXAMPLE_STACKS:
        seconds = best_time(stack, repeat)
        ratios[stack] = seconds / baseline
        print(f"{stack:<18} {seconds:6.2f}s  {ratios[stack]:5.2f}x")
    return ratios


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement; the best counts")
    parser.add_argument("--limit", type=float, default=2.0, help="the largest ratio allowed")
    parser.add_argument("--child", nargs=2, metavar=("NAME", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _render_once(args.child[0], Path(args.child[1]))
        return 0
    slow = [stack for stack, ratio in measure(args.repeat).items() if ratio > args.limit]
    if slow:
        print(f"slower than {args.limit}x the minimal program: {', '.join(slow)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
