"""make bench-compare's logic (benchmarks/compare.py) on synthetic runs: a figure regressed
only when it is worse than the baseline's by more than max(3 x the spread, 5%), in the
direction that figure counts as better; ratios always compared, absolute figures only with
--absolute and on the same CPU. Needs no compiler work: the JSON files are made up here."""
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COMPARE = os.path.join(ROOT, "benchmarks", "compare.py")
MACHINE = {"cpu_model": "Test CPU", "cpu_model_number": "1", "vector_bits": 512}


def fig(value, spread, unit, better):
    return {"value": value, "spread": spread, "unit": unit, "better": better, "goal": None, "met": None}


def run_compare(base, new, *flags):
    d = tempfile.mkdtemp(prefix="tric-test-bench-")
    paths = []
    for name, run in (("base.json", base), ("new.json", new)):
        paths.append(os.path.join(d, name))
        with open(paths[-1], "w") as f:
            json.dump(run, f)
    return subprocess.run([sys.executable, COMPARE] + list(flags) + paths, capture_output=True, text=True)


def flagged(r, word):
    """Names of the figures the report lists under word (REGRESSED or improved)."""
    return {line.split()[1] for line in r.stdout.splitlines() if line.split()[:1] == [word]}


BASE = {"machine": MACHINE, "figures": {
    "a.ratio_big_drop": fig(1.00, 0.01, "ratio", "higher"),   # -> 0.80: 20% worse, threshold 5%
    "b.ratio_small_drop": fig(1.00, 0.01, "ratio", "higher"),  # -> 0.97: within the 5% floor
    "c.ratio_noisy_drop": fig(1.00, 0.10, "ratio", "higher"),  # -> 0.75: 25% worse, threshold 3 x 10%
    "d.ratio_rise": fig(1.00, 0.01, "ratio", "higher"),        # -> 1.30: better, not a regression
    "e.ms_slower": fig(10.0, 0.02, "ms", "lower"),             # -> 14.0: 40% slower, threshold 6%
    "f.ms_faster": fig(10.0, 0.02, "ms", "lower"),             # -> 7.0: faster
    "g.gbs_lower": fig(8.0, 0.01, "GB/s", "higher"),           # -> 6.0: 25% lower
    "h.baseline_ms": fig(5.0, 0.01, "ms", None),               # -> 50.0: a baseline's time, never compared
    "i.ratio_gone": fig(1.00, 0.01, "ratio", "higher"),        # missing from the new run
    "j.ratio_new_noise": fig(1.00, 0.01, "ratio", "higher"),   # -> 0.80 with the new run's spread 0.10
}}
NEW = {"machine": MACHINE, "figures": {
    "a.ratio_big_drop": fig(0.80, 0.01, "ratio", "higher"),
    "b.ratio_small_drop": fig(0.97, 0.01, "ratio", "higher"),
    "c.ratio_noisy_drop": fig(0.75, 0.01, "ratio", "higher"),
    "d.ratio_rise": fig(1.30, 0.01, "ratio", "higher"),
    "e.ms_slower": fig(14.0, 0.02, "ms", "lower"),
    "f.ms_faster": fig(7.0, 0.02, "ms", "lower"),
    "g.gbs_lower": fig(6.0, 0.01, "GB/s", "higher"),
    "h.baseline_ms": fig(50.0, 0.01, "ms", None),
    "j.ratio_new_noise": fig(0.80, 0.10, "ratio", "higher"),
}}


def test_bench_compare_ratios(ctx):
    """By default: ratios beyond the noise regress (and a missing one); ms and GB/s are not compared."""
    r = run_compare(BASE, NEW)
    if r.returncode != 1:
        return "compare exited %d, not 1 (regressions found): %s%s" % (r.returncode, r.stdout, r.stderr)
    want = {"a.ratio_big_drop", "i.ratio_gone"}
    if flagged(r, "REGRESSED") != want:
        return "regressed %s, expected %s:\n%s" % (sorted(flagged(r, "REGRESSED")), sorted(want), r.stdout)
    if flagged(r, "improved") != {"d.ratio_rise"}:
        return "improved %s, expected d.ratio_rise:\n%s" % (sorted(flagged(r, "improved")), r.stdout)
    if "5 figures compared, 2 regressed, 1 improved" not in r.stdout:
        return "summary line wrong:\n%s" % r.stdout


def test_bench_compare_absolute(ctx):
    """--absolute adds tric's own figures, each judged in its direction; never a baseline's time."""
    r = run_compare(BASE, NEW, "--absolute")
    want = {"a.ratio_big_drop", "i.ratio_gone", "e.ms_slower", "g.gbs_lower"}
    if r.returncode != 1 or flagged(r, "REGRESSED") != want:
        return "exit %d, regressed %s, expected %s:\n%s" % (r.returncode, sorted(flagged(r, "REGRESSED")), sorted(want), r.stdout)
    if flagged(r, "improved") != {"d.ratio_rise", "f.ms_faster"}:
        return "improved %s:\n%s" % (sorted(flagged(r, "improved")), r.stdout)
    # another CPU: absolute figures mean nothing there, only ratios are compared
    other = dict(NEW, machine=dict(MACHINE, vector_bits=256))
    r = run_compare(BASE, other, "--absolute")
    if flagged(r, "REGRESSED") != {"a.ratio_big_drop", "i.ratio_gone"} or "different CPUs" not in r.stdout:
        return "across CPUs, regressed %s:\n%s" % (sorted(flagged(r, "REGRESSED")), r.stdout)


def test_bench_compare_clean(ctx):
    """A run against itself regresses nothing and exits 0; a file that is no run exits 2, named."""
    r = run_compare(BASE, BASE, "--absolute")
    if r.returncode != 0 or flagged(r, "REGRESSED") or "0 regressed" not in r.stdout:
        return "self-compare: exit %d\n%s%s" % (r.returncode, r.stdout, r.stderr)
    r = run_compare(BASE, {"figures": []})
    if r.returncode != 2 or "new.json" not in r.stderr:
        return "bad file: exit %d, %r" % (r.returncode, r.stderr)
