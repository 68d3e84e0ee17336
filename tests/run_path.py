"""The path of `ganbench run` through ganbench's modules, counted (issue 42 #2).

    python -m tests.run_path [--stretch | --run-suite] run suites/mog --quick --results-dir DIR

runs the command under sys.setprofile and prints, on stderr after the run's own output:

- the path: the module of the innermost ganbench frame after every call and return,
  consecutive repeats collapsed; a step is one change of module (a call into another,
  or the return to the caller's), a re-entry a step into a module the path had left;
- the same path restricted to run/ and results/, and its crossings between the two;
- every call from outside results/ into it, as caller:function -> callee:function.

Two rules keep it to the path rather than the work: modules outside cli/, run/, results/
and the suite file (training, metrics, features, data, viz, runtime, publishing, the
registry) are entered and left, but the calls inside them are not followed; and a call
from a function to a function it called before is not followed again (the second job
repeats the first's path). Imports (a module's top level) are not counted.

From cli/run.py:cmd_run to its return by default; `--run-suite`: from run/__init__.py's
run_suite (the suite loaded); `--stretch`: run_suite until it calls execute (the run
folder found, claimed or created, locked, refused or continued, and the header).
"""

from __future__ import annotations

import itertools
import sys
from collections import Counter

FOLLOWED = ("ganbench.cli", "ganbench.run", "ganbench.results", "ganbench.suite")
PACKAGES = ("cli", "run", "results", "suite", "training", "publishing", "runtime")
PACKAGES += ("metrics", "features", "data", "viz")


def followed(module: str) -> bool:
    return any(module == p or module.startswith(p + ".") for p in FOLLOWED)


def short(module: str) -> str:
    """ganbench.results.store -> results/store; ganbench.run -> run/__init__."""
    name = module.removeprefix("ganbench.").replace(".", "/")
    return f"{name}/__init__" if name in PACKAGES else name


def trace(argv: list[str], root, stop) -> tuple[list[str], list[tuple[str, str]]]:
    """(the path, every call into results/ from outside it) of `ganbench ARGV`."""
    from ganbench.cli import main

    path: list[str] = []
    into_results: list[tuple[str, str]] = []
    stack: list[tuple[str | None, bool, object]] = []  # (module, muted, code)
    seen: set[tuple[object, object]] = set()
    active = False

    def note() -> None:
        module = next((m for m, _, _ in reversed(stack) if m is not None), None)
        if module is not None and (not path or path[-1] != module):
            path.append(module)

    def profile(frame, event, arg) -> None:
        nonlocal active
        code = frame.f_code
        if event == "call":
            active = active or code is root
            if not active or code is stop:
                active = active and code is not stop
                return
            name = frame.f_globals.get("__name__", "")
            module = name if name.startswith("ganbench") else None
            caller = next(((m, c) for m, _, c in reversed(stack) if m is not None), None)
            if (stack and stack[-1][1]) or code.co_name == "<module>":
                stack.append((None, True, None))
            elif module is None:
                stack.append((None, False, code))
            elif (caller and caller[1], code) in seen:
                stack.append((None, True, None))
            else:
                seen.add((caller and caller[1], code))
                stack.append((module, not followed(module), code))
                outside = caller and not caller[0].startswith("ganbench.results")
                if outside and module.startswith("ganbench.results"):
                    into_results.append(
                        (
                            f"{short(caller[0])}:{caller[1].co_name}",
                            f"{short(module)}:{code.co_name}",
                        )
                    )
                note()
        elif event == "return" and active and stack:
            stack.pop()
            active = code is not root
            note()

    sys.setprofile(profile)
    try:
        main(argv)
    except SystemExit:
        pass
    finally:
        sys.setprofile(None)
    return [short(m) for m in path], into_results


def report(title: str, names: list[str]) -> None:
    left: set[str] = set()
    reentries: Counter[str] = Counter()
    for before, after in itertools.pairwise(names):
        left.add(before)
        reentries[after] += after in left
    print(
        f"== {title}: {len(set(names))} modules, {len(names) - 1} steps, ", end="", file=sys.stderr
    )
    print(f"{sum(reentries.values())} re-entries", file=sys.stderr)
    print(" -> ".join(names), file=sys.stderr)


def main(argv: list[str]) -> None:
    import ganbench.run
    from ganbench.cli import run as cli_run

    mode = argv.pop(0) if argv and argv[0] in ("--stretch", "--run-suite") else ""
    root = cli_run.cmd_run.__code__ if not mode else ganbench.run.run_suite.__code__
    stop = ganbench.run.execute.__code__ if mode == "--stretch" else None
    path, into_results = trace(argv, root, stop)
    report("the path", path)
    own = [m for m in path if m.startswith(("run/", "results/"))]
    own = [m for i, m in enumerate(own) if not i or own[i - 1] != m]
    crossings = sum(a.split("/")[0] != b.split("/")[0] for a, b in itertools.pairwise(own))
    report(f"in run/ and results/ ({crossings} crossings between the two)", own)
    print(f"== calls into results/ from outside it: {len(into_results)}", file=sys.stderr)
    for caller, callee in into_results:
        print(f"  {caller} -> {callee}", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1:])
