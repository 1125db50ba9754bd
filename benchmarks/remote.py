"""remote.py - the remote section of `make bench` (run.py --only remote): the remote build
cache (docs/cache.md) against a throw-away Debian nginx on 127.0.0.1
(tests/cli/nginx_fixture.py), on a generated 200-module project (run.py's gen_project).

Per repetition, one after the other (so that a slow spell of the machine hits all four;
cold and write swap places every other repetition):
  cold        an empty local cache, no remote: every module compiled (the baseline of both goals)
  write       machine A: the same cold build writing every module through to an empty server
  remote      machine B: another checkout path, an empty local cache, the server as A left it:
              every module from the remote
  no-change   machine B again, right after: every module from its local cache, no remote
Figures: the median of each run's times, and of each repetition's own ratios: remote / cold
(goal <= 0.05), remote / no-change (no goal: what a remote
hit costs over a local one), write / cold (goal <= 1.1). Every run is checked: B's remote run
must count a remote hit per module and no miss (tric cache stats), the server must hold an
entry per module, and every run's outputs must be byte-identical to the cold build's; else
the figures measure nothing and the section fails. For scale (issue 12): ccache 4.7 on the
same nginx, 200 small C files: cold 8.8 s, warm remote into an empty local cache 1.1 s
(0.125), write-through cold 34.7 s (3.9x).
"""
import importlib.util
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
MODULES, REPS = 200, 5
GOAL_REMOTE, GOAL_WRITE = 0.05, 1.1


def load_fixture():
    spec = importlib.util.spec_from_file_location("nginx_fixture", os.path.join(ROOT, "tests", "cli", "nginx_fixture.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def env_for(cache):
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRIC_REMOTE_CACHE")}
    env["TRIC_CACHE_DIR"] = cache
    return env


CPU = []  # the CPU seconds (user + system) of each timed_build, in order


def timed_build(tric, d, env, remote=None):
    """(wall seconds, stderr) of `tric build src -o out` in d; its CPU seconds go to CPU."""
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    r = subprocess.run([tric, "build", "src", "-o", "out"] + (["--remote-cache=" + remote] if remote else []), cwd=d,
                       env=env, capture_output=True, text=True)
    dt = time.perf_counter() - t0
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    CPU.append(ru1.ru_utime - ru0.ru_utime + ru1.ru_stime - ru0.ru_stime)
    if r.returncode:
        sys.exit("remote: tric build failed in %s (exit %d):\n%s" % (d, r.returncode, r.stderr[-3000:]))
    return dt, r.stderr


def outputs(d):
    out = {}
    for base, _, files in os.walk(os.path.join(d, "out")):
        for f in files:
            p = os.path.join(base, f)
            out[os.path.relpath(p, d)] = open(p, "rb").read()
    return out


def bench_remote(tric, json_path, gen_project):
    import kernels  # machine(), stats(), Section, goal_text, write_result: the figures' JSON format
    nf = load_fixture()
    why = nf.unavailable()
    if why:
        print("remote: skipped: %s" % why)
        return
    t_start = time.time()
    work = tempfile.mkdtemp(prefix="tric-bench-remote-")
    a, b = os.path.join(work, "a"), os.path.join(work, "b")  # two machines' checkouts
    os.makedirs(os.path.join(a, "src"))
    gen_project(os.path.join(a, "src"), MODULES)
    shutil.copytree(os.path.join(a, "src"), os.path.join(b, "src"))
    mach = kernels.machine()
    sec = kernels.Section()
    print("remote: %s, %d cpus, load %.2f %.2f %.2f; %d-module project, Debian nginx %s on 127.0.0.1" % (
        mach["cpu_model"], mach["cpus_allowed"], *mach["loadavg_start"], MODULES,
        subprocess.run([nf.NGINX, "-v"], capture_output=True, text=True).stderr.strip().split("/")[-1]))
    times = {"cold": [], "write": [], "remote": [], "nochange": []}
    ratios = {"remote_cold": [], "remote_nochange": [], "write_cold": []}
    cpu, cpu_of = {k: [] for k in times}, {}  # tric's CPU seconds per run: what the load of others does not stretch
    served = {"entries": 0, "bytes": 0, "requests": 0}

    def fresh_cache():
        return tempfile.mkdtemp(prefix="cache-", dir=work)

    with nf.Nginx(work) as srv:
        def cold():
            dt, _ = timed_build(tric, a, env_for(fresh_cache()))
            cpu_of["cold"] = CPU[-1]
            return dt, outputs(a)

        def write():
            shutil.rmtree(os.path.join(srv.root, "v1"), ignore_errors=True)  # an empty server
            seen = len(srv.requests())
            dt, err = timed_build(tric, a, env_for(fresh_cache()), srv.url)
            cpu_of["write"] = CPU[-1]
            ents = srv.entries()
            if len(ents) != MODULES or "warning" in err:
                sec.failures.append("write-through: the server holds %d entries for %d modules%s" % (
                    len(ents), MODULES, "; " + err.strip()[-500:] if "warning" in err else ""))
            served.update(entries=len(ents), bytes=sum(len(x) for x in ents.values()),
                          requests=len(srv.requests()) - seen)
            return dt, outputs(a)

        for rep in range(REPS + 1):  # the first repetition warms the page cache and is not counted
            # cold and write alternate which goes first, so that a drift of the load hits both alike
            first, second = (cold, write) if rep % 2 == 0 else (write, cold)
            t1, o1 = first()
            t2, o2 = second()
            (t_cold, ref), (t_write, o_write) = ((t1, o1), (t2, o2)) if first is cold else ((t2, o2), (t1, o1))
            if o_write != ref:
                sec.failures.append("write-through: outputs differ from the cold build's")
            cache_b = fresh_cache()  # the server as the write-through run left it
            t_remote, err = timed_build(tric, b, env_for(cache_b), srv.url)
            cpu_of["remote"] = CPU[-1]
            s = json.loads(subprocess.run([tric, "cache", "stats", "--json"], env=env_for(cache_b),
                                          capture_output=True, text=True).stdout or "{}")
            if (s.get("remote_hits"), s.get("remote_misses")) != (MODULES, 0) or "warning" in err:
                sec.failures.append("machine B from the remote: %s remote hits, %s misses for %d modules%s" % (
                    s.get("remote_hits"), s.get("remote_misses"), MODULES,
                    "; " + err.strip()[-500:] if "warning" in err else ""))
            if outputs(b) != ref:
                sec.failures.append("machine B's outputs from the remote differ from the cold build's")
            t_nochange, _ = timed_build(tric, b, env_for(cache_b))
            cpu_of["nochange"] = CPU[-1]
            if outputs(b) != ref:
                sec.failures.append("machine B's no-change rebuild changed its outputs")
            if sec.failures:  # the first repetition already shows it: no figures
                shutil.rmtree(work, ignore_errors=True)
                kernels.write_result({"schema": "tric-bench-kernels/1", "section": "remote", "machine": mach,
                                      "checks_failed": sec.failures, "figures": {}}, json_path, "remote", sec.failures)
            if rep:
                for k, v in (("cold", t_cold), ("write", t_write), ("remote", t_remote), ("nochange", t_nochange)):
                    times[k].append(v)
                    cpu[k].append(cpu_of[k])
                ratios["remote_cold"].append(t_remote / t_cold)
                ratios["remote_nochange"].append(t_remote / t_nochange)
                ratios["write_cold"].append(t_write / t_cold)
    st = {k: kernels.stats(v) for k, v in times.items()}
    ms = {k: v["median"] * 1e3 for k, v in st.items()}
    for k in times:
        sec.add("remote.%s_ms" % k, ms[k], st[k]["spread"], "ms", "lower" if k != "cold" else None, samples=times[k])
        c = kernels.stats(cpu[k])
        sec.add("remote.%s_cpu_ms" % k, c["median"] * 1e3, c["spread"], "ms", samples=cpu[k])
    cpu_ms = {k: kernels.stats(v)["median"] * 1e3 for k, v in cpu.items()}
    # each ratio: the median of the repetitions' own ratios (runs seconds apart), its spread theirs
    rs = {k: kernels.stats(v) for k, v in ratios.items()}
    met = {}
    for k, goal in (("remote_cold", GOAL_REMOTE), ("remote_nochange", None), ("write_cold", GOAL_WRITE)):
        met[k] = sec.add("remote.ratio_" + k, rs[k]["median"], rs[k]["spread"], "ratio", "lower", goal,
                         samples=ratios[k])

    def spread(k):
        return " (spread %2.0f%%)" % (100 * st[k]["spread"])
    print("  (median of %d; process wall time of `tric build src -o out`, default -j; ratios: the median of each "
          "repetition's own; the server holds %d entries, %.1f KB; a write-through build made %d requests)" % (
              REPS, served["entries"], served["bytes"] / 1024, served["requests"]))
    print("  A cold, no remote (baseline)             %8.1f ms%s" % (ms["cold"], spread("cold")))
    print("  A cold, writing through to the server    %8.1f ms%s   ratio to cold %.3f%s" % (
        ms["write"], spread("write"), rs["write_cold"]["median"],
        kernels.goal_text(met["write_cold"], GOAL_WRITE, "lower")))
    print("  B cold, warm remote, empty local cache   %8.1f ms%s   ratio to cold %.3f%s" % (
        ms["remote"], spread("remote"), rs["remote_cold"]["median"],
        kernels.goal_text(met["remote_cold"], GOAL_REMOTE, "lower")))
    print("  B no-change rebuild, local cache         %8.1f ms%s   remote / no-change %.2f" % (
        ms["nochange"], spread("nochange"), rs["remote_nochange"]["median"]))
    print("  B from the remote, each run: %s ms (a run far above the others is a stall, not the load, when its CPU "
          "time is not: %s ms)" % (" ".join("%.0f" % (t * 1e3) for t in times["remote"]),
                                    " ".join("%.0f" % (t * 1e3) for t in cpu["remote"])))
    print("  tric's CPU time (user + system, median): cold %.0f ms, writing through %.0f ms (%.3f), B from the remote "
          "%.0f ms (%.3f of cold), no-change %.0f ms" % (
              cpu_ms["cold"], cpu_ms["write"], cpu_ms["write"] / cpu_ms["cold"], cpu_ms["remote"],
              cpu_ms["remote"] / cpu_ms["cold"], cpu_ms["nochange"]))
    print("  for scale, ccache 4.7 on the same nginx (issue 12): warm remote / cold 0.125, write-through / cold 3.9")
    print("section took %.0f s, load %.2f at the end" % (time.time() - t_start, os.getloadavg()[0]))
    mach["loadavg_end"] = list(os.getloadavg())
    commit = subprocess.run(["git", "-C", HERE, "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    result = {"schema": "tric-bench-kernels/1", "section": "remote",
              "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "tric": tric, "tric_commit": commit or None,
              "machine": mach, "modules": MODULES, "reps": REPS, "server": served,
              "seconds": time.time() - t_start, "checks_failed": sec.failures, "figures": sec.figures}
    shutil.rmtree(work, ignore_errors=True)
    kernels.write_result(result, json_path, "remote", sec.failures)
