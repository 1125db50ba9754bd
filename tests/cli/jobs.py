"""How many compile tasks run at once: -j alone, and under GNU make's jobserver (the pipe
form of make 4.3, run by make itself, and the fifo form of make 4.4, served by the test),
observed in --time-trace (each task's interval on one clock across processes). Tokens
taken from the jobserver must all be given back: after a build, after a failed one and
after SIGTERM."""
import fcntl
import json
import os
import shutil
import signal
import stat
import struct
import subprocess
import termios
import time

STAGES = ("lower/fuse, LLVM IR build", "LLVM optimize", "code generation")


def project(ctx, d, name, n=6):
    """n modules of four layers each: a few dozen compile tasks."""
    os.makedirs(os.path.join(d, name))
    for i in range(n):
        body = "\n".join("  let h%d = tanh(h%d @ w%d + b) * %d.0;" % (k + 1, k, k % 3, i + k + 1) for k in range(4))
        with open(os.path.join(d, name, "m%d.tri" % i), "w") as f:
            f.write("export fn f%d(x: f32[B, 16], w0: f32[16, 16], w1: f32[16, 16], w2: f32[16, 16], b: f32[16])"
                    " -> f32[B, 16] {\n  let h0 = exp(x);\n%s\n  return h4;\n}\n" % (i, body))


def task_intervals(path):
    """(start, end) of every compile task in a trace, in microseconds of CLOCK_MONOTONIC."""
    t = json.load(open(path))
    origin = t["otherData"]["monotonic_start_us"]
    return [(origin + e["ts"], origin + e["ts"] + e["dur"]) for e in t["traceEvents"]
            if e["ph"] == "X" and e["name"] not in STAGES]


def max_overlap(intervals):
    points = sorted([(s, 1) for s, _ in intervals] + [(e, -1) for _, e in intervals])  # an end before a start
    cur = best = 0
    for _, d in points:
        cur += d
        best = max(best, cur)
    return best


def env_without_make(ctx):
    env = dict(os.environ, TRIC_CACHE_DIR=ctx.cache_dir)
    env.pop("MAKEFLAGS", None)
    env.pop("MFLAGS", None)
    return env


def test_j_without_jobserver(ctx):
    """Without a jobserver -j is the number of tasks at once: 1 with -j1, 2 with -j2."""
    d = ctx.tmpdir()
    project(ctx, d, "src")
    for j in (1, 2):
        r = ctx.run([ctx.tric, "build", "src", "--no-cache", "-j%d" % j, "--time-trace=t.json"], cwd=d,
                    env=env_without_make(ctx))
        if r.returncode:
            return r.stderr
        tasks = task_intervals(os.path.join(d, "t.json"))
        if len(tasks) < 20 or max_overlap(tasks) != j:
            return "-j%d: %d tasks, at most %d at once" % (j, len(tasks), max_overlap(tasks))
    shutil.rmtree(d)


def test_make_j2_runs_two_compiles_across_processes(ctx):
    """make -j2 running two tric processes, each with -j2: at most two compile tasks at
    once across both (make 4.3 hands its pipe to recipes marked '+'). The same Makefile
    without '+' (no jobserver reaches tric) runs more, so the trace can tell."""
    if not shutil.which("make"):
        return Skip("no make")
    d = ctx.tmpdir()
    project(ctx, d, "p1")
    project(ctx, d, "p2")
    overlaps = []
    for plus in ("+", ""):
        with open(os.path.join(d, "Makefile"), "w") as f:
            f.write("all: p1 p2\np1 p2:\n\t%s%s build $@ -j2 --no-cache --time-trace=$@.json\n.PHONY: all p1 p2\n"
                    % (plus, ctx.tric))
        r = ctx.run(["make", "-s", "-j2"], cwd=d, env=env_without_make(ctx))
        if r.returncode:
            return "make: %s" % r.stderr
        overlaps.append(max_overlap(task_intervals(os.path.join(d, "p1.json")) +
                                    task_intervals(os.path.join(d, "p2.json"))))
    if overlaps[0] > 2:
        return "under make -j2, %d compile tasks of two tric processes ran at once" % overlaps[0]
    if overlaps[1] <= 2:
        return "without the jobserver the two processes never ran more than 2 tasks at once (%d): the test " \
               "cannot tell" % overlaps[1]
    shutil.rmtree(d)


def tokens_in(fd):
    """Bytes waiting in a pipe."""
    return struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0"))[0]


def test_pipe_jobserver_limits_and_returns_tokens(ctx):
    """--jobserver-auth=R,W with 2 tokens in the pipe and -j4: at most 3 tasks at once (the
    implicit slot and two tokens), and both tokens are back in the pipe afterwards, also
    after a build in which a module fails (-k)."""
    d = ctx.tmpdir()
    project(ctx, d, "src")
    with open(os.path.join(d, "src", "bad.tri"), "w") as f:
        f.write("export fn bad(x: f32[N]) -> f32[N] { return x + nope; }\n")
    r_fd, w_fd = os.pipe()
    os.write(w_fd, b"++")
    env = dict(env_without_make(ctx), MAKEFLAGS=" -j3 --jobserver-auth=%d,%d" % (r_fd, w_fd))
    for argv, status in ((["src", "-k"], 1), (["src/m0.tri", "src/m1.tri", "src/m2.tri", "src/m3.tri"], 0)):
        p = subprocess.run([ctx.tric, "build", "--no-cache", "-j4", "--time-trace=t.json"] + argv, cwd=d, env=env,
                           pass_fds=(r_fd, w_fd), capture_output=True, text=True, timeout=120)
        if p.returncode != status:
            return "tric build %s: exit %d\n%s" % (" ".join(argv), p.returncode, p.stderr)
        n = max_overlap(task_intervals(os.path.join(d, "t.json")))
        if n > 3:
            return "%d tasks at once with 2 tokens" % n
        if tokens_in(r_fd) != 2 or os.read(r_fd, 2) != b"++" or os.write(w_fd, b"++") != 2:
            return "after tric build %s the pipe holds %d tokens, not 2" % (" ".join(argv), tokens_in(r_fd))
    os.close(r_fd)
    os.close(w_fd)
    shutil.rmtree(d)


def test_fifo_jobserver_and_sigterm(ctx):
    """make 4.4's --jobserver-auth=fifo:PATH with one token: at most 2 tasks at once, the
    token is back after the build, and after a SIGTERM while tric holds it."""
    d = ctx.tmpdir()
    project(ctx, d, "src", n=16)
    fifo = os.path.join(d, "jobs")
    os.mkfifo(fifo)
    fd = os.open(fifo, os.O_RDWR | os.O_NONBLOCK)
    os.write(fd, b"+")
    env = dict(env_without_make(ctx), MAKEFLAGS="-j2 --jobserver-auth=fifo:" + fifo)
    argv = [ctx.tric, "build", "--no-cache", "-j4", "src", "--time-trace=t.json"]
    r = ctx.run(argv, cwd=d, env=env)
    if r.returncode:
        return r.stderr
    n = max_overlap(task_intervals(os.path.join(d, "t.json")))
    if n > 2:
        return "%d tasks at once with one token" % n
    if tokens_in(fd) != 1:
        return "after the build the fifo holds %d tokens, not 1" % tokens_in(fd)
    p = subprocess.Popen(argv, cwd=d, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while tokens_in(fd) and p.poll() is None and time.time() < deadline:  # until tric holds the token
        time.sleep(0.002)
    taken = tokens_in(fd) == 0 and p.poll() is None
    p.send_signal(signal.SIGTERM)
    p.wait(timeout=60)
    if not taken or p.returncode != -signal.SIGTERM:
        return "tric never held the token while running (exit %s)" % p.returncode
    if tokens_in(fd) != 1:
        return "after SIGTERM the fifo holds %d tokens, not 1" % tokens_in(fd)
    os.close(fd)
    if not stat.S_ISFIFO(os.stat(fifo).st_mode):
        return "the fifo was replaced"
    shutil.rmtree(d)


def test_unusable_jobserver_is_not_fatal(ctx):
    """MAKEFLAGS naming descriptors this process does not have (make 4.3 runs a recipe not
    marked '+' so): tric builds as -j says, and says why under -v."""
    d = ctx.tmpdir()
    project(ctx, d, "src", n=2)
    env = dict(env_without_make(ctx), MAKEFLAGS=" -j2 --jobserver-auth=3,4")
    r = ctx.run([ctx.tric, "build", "--no-cache", "-j2", "src"], cwd=d, env=env)
    if r.returncode or "jobserver" in r.stderr:
        return "exit %d: %s" % (r.returncode, r.stderr)
    r = ctx.run([ctx.tric, "build", "--no-cache", "-j2", "-v", "src"], cwd=d, env=env)
    if r.returncode or "jobserver (--jobserver-auth=3,4) is not open" not in r.stderr:
        return "-v does not say why the jobserver is not used: %s" % r.stderr
    shutil.rmtree(d)
