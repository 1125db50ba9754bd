#!/usr/bin/python3
"""compare.py - make bench-compare: which figures of a kernels run (run.py --json) regressed
against a baseline run, beyond the run-to-run noise the two runs measured.

  compare.py [--absolute] BASELINE.json NEW.json

Each figure carries its median and its spread (the interquartile range of its repetitions
over the median; a ratio's spread is the sum of its two timings'). A figure regressed when the
new value is worse than the baseline's by more than max(3 x the larger of the two spreads,
5%): lower for a figure marked better=higher (ratios, GB/s), higher for one marked
better=lower (tric's milliseconds). Figures with no direction (the baselines' own times) are
context, never compared. A figure of the baseline missing from the new run counts as a
regression.

By default only the ratios are compared (unit "ratio": tric against a baseline timed beside
it), because a ratio cancels what the machine was doing at the time and an absolute time does
not: on a shared machine two runs of the same tric differ by 10-60% in milliseconds while
their ratios agree. --absolute also compares tric's own figures (ms, GB/s), which is right
on a quiet machine; never across CPUs (model or vector width), where it is refused per figure.

Prints one line per regressed (and per improved) figure and a summary; exits 1 when any
figure regressed, 0 otherwise, 2 on an unreadable file.
"""
import json
import sys

NOISE_FACTOR, NOISE_FLOOR = 3.0, 0.05


def load(path):
    try:
        with open(path) as f:
            d = json.load(f)
        if not isinstance(d.get("figures"), dict) or not isinstance(d.get("machine"), dict):
            raise ValueError("no 'figures' or 'machine' object: not a run.py --json file")
        return d
    except (OSError, ValueError) as e:
        print("bench-compare: %s: %s" % (path, e), file=sys.stderr)
        sys.exit(2)


def threshold(old, new):
    """The relative change beyond which a difference is not noise."""
    return max(NOISE_FACTOR * max(old.get("spread", 0.0), new.get("spread", 0.0)), NOISE_FLOOR)


def compare(base, new, absolute=False):
    """-> (regressed, improved, compared, same_cpu): lists of (name, old, new, change,
    threshold), the number of figures compared, whether both runs had the same CPU."""
    same_cpu = all(base["machine"].get(k) == new["machine"].get(k) for k in ("cpu_model", "cpu_model_number", "vector_bits"))
    regressed, improved, compared = [], [], 0
    for name, old in sorted(base["figures"].items()):
        better = old.get("better")
        if better not in ("higher", "lower"):
            continue
        if old.get("unit") != "ratio" and not (absolute and same_cpu):
            continue
        cur = new["figures"].get(name)
        if cur is None:
            regressed.append((name, old["value"], None, None, None))
            continue
        compared += 1
        thr = threshold(old, cur)
        change = cur["value"] / old["value"] - 1.0 if old["value"] else 0.0
        worse = -change if better == "higher" else change
        row = (name, old["value"], cur["value"], change, thr)
        if worse > thr:
            regressed.append(row)
        elif -worse > thr:
            improved.append(row)
    return regressed, improved, compared, same_cpu


def main(argv):
    absolute = "--absolute" in argv[1:]
    argv = [a for a in argv if a != "--absolute"]
    if len(argv) != 3:
        print("usage: compare.py [--absolute] BASELINE.json NEW.json", file=sys.stderr)
        return 2
    base, new = load(argv[1]), load(argv[2])
    regressed, improved, compared, same_cpu = compare(base, new, absolute)
    bm, nm = base["machine"], new["machine"]
    print("bench-compare: baseline %s (%s, %s-bit, %s) against new %s (%s, %s-bit, %s)" % (
        argv[1], base.get("date"), bm.get("vector_bits"), bm.get("cpu_model"),
        argv[2], new.get("date"), nm.get("vector_bits"), nm.get("cpu_model")))
    if absolute and not same_cpu:
        print("  different CPUs: --absolute ignored, only the ratios (figures against a baseline run beside them) are compared")
    elif not absolute:
        print("  ratios only (tric against a baseline timed beside it); --absolute (ABSOLUTE=1) adds tric's ms and GB/s")
    unit = lambda name, d: (d["figures"].get(name) or {}).get("unit", "")
    for label, rows in (("REGRESSED", regressed), ("improved", improved)):
        for name, old, cur, change, thr in rows:
            if cur is None:
                print("  %-9s %-48s %.4g %s -> missing from the new run" % (label, name, old, unit(name, base)))
            else:
                print("  %-9s %-48s %.4g -> %.4g %s (%+.1f%%, noise threshold %.1f%%)" % (
                    label, name, old, cur, unit(name, base), change * 100, thr * 100))
    print("bench-compare: %d figures compared, %d regressed, %d improved beyond noise" % (
        compared, len(regressed), len(improved)))
    return 1 if regressed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
