"""Time the offline render of each example stack against its floor.

    python -m tools.bench [--repeat N] [--limit RATIO]

A stack's floor is the least any program on its platform costs: a fresh process that imports the
same provider modules the stack's program imports (pulumi_gcp's are slow to import, whatever the
program does with them) and registers one provider of each package. Each measurement is a fresh
process, best of N. The target: every stack within 1.3x of its floor (exit 1 if one is not). The
ratio to the plain minimal program (pulumi_kubernetes, one resource) is shown as information.
"""

from __future__ import annotations

import argparse
import importlib
import json
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
FLOOR_PROGRAM = Path(__file__).with_name("floor_program.py")
MODULES = "modules.json"  # the provider modules a stack's run imported, written by its child


def _render_once(name: str, out: Path) -> None:
    """The measured work, in the child process: one offline run written to `out`."""
    if name == MINIMAL:
        write_render(run_program("local", program=MINIMAL_PROGRAM), out)  # it ignores its settings
        return
    write_render(run_program(name, program=PROGRAM), out)
    providers = sorted(module for module in sys.modules if module.startswith("pulumi_"))
    (out / MODULES).write_text(json.dumps(providers))


def _floor_once(modules: list[str], out: Path) -> None:
    """A stack's floor, in the child process: its provider modules imported, one provider of each."""
    for module in modules:
        importlib.import_module(module)
    write_render(run_program("local", program=FLOOR_PROGRAM), out)


def best_time(command: list[str], repeat: int, keep: str | None = None) -> tuple[float, str | None]:
    """The best time of `command` (a child of this module) and, if asked, a file it wrote."""
    times, kept = [], None
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as work:
            out = Path(work) / "render"
            started = time.perf_counter()
            subprocess.run([sys.executable, "-m", "tools.bench", *command, str(out)], cwd=REPO, check=True)
            times.append(time.perf_counter() - started)
            if keep:
                kept = (out / keep).read_text()
    return min(times), kept


def measure(repeat: int) -> dict[str, float]:
    """Each example stack's render time as a multiple of its floor's, printed as it goes."""
    minimal, _ = best_time(["--child", MINIMAL], repeat)
    print(f"{'minimal program':<18} {minimal:6.2f}s")
    ratios = {}
    for stack in EXAMPLE_STACKS:
        seconds, modules = best_time(["--child", stack], repeat, keep=MODULES)
        floor, _ = best_time(["--floor", modules], repeat)
        ratios[stack] = seconds / floor
        print(f"{stack:<18} {seconds:6.2f}s  floor {floor:6.2f}s  {ratios[stack]:5.2f}x its floor  "
              f"({seconds / minimal:4.2f}x the minimal program)")
    return ratios


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement; the best counts")
    parser.add_argument("--limit", type=float, default=1.3, help="the largest ratio to its floor allowed")
    parser.add_argument("--child", nargs=2, metavar=("NAME", "OUT"), help=argparse.SUPPRESS)
    parser.add_argument("--floor", nargs=2, metavar=("MODULES", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _render_once(args.child[0], Path(args.child[1]))
        return 0
    if args.floor:
        _floor_once(json.loads(args.floor[0]), Path(args.floor[1]))
        return 0
    slow = [stack for stack, ratio in measure(args.repeat).items() if ratio > args.limit]
    if slow:
        print(f"slower than {args.limit}x their floor: {', '.join(slow)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
