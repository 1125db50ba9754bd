"""The remote build cache (an HTTP server beside the local cache; docs/cache.md, issue 12),
against a throw-away Debian nginx (nginx_fixture.py): a machine B served every module by
what machine A wrote through, byte-identical outputs, the layout on the server, read-only
clients, a server killed mid-build, answering 500, serving damaged or misplaced entries,
a dead or silent URL, eight clients at once, the bearer token and basic auth (sent, never
printed), and which option or variable turns the remote on or off.

Every test skips (never passes) where nginx is not installed or lacks WebDAV."""
import base64
import importlib.util
import json
import os
import random
import re
import shutil
import socket
import struct
import subprocess
import threading
import time

_spec = importlib.util.spec_from_file_location(
    "nginx_fixture", os.path.join(os.path.dirname(os.path.abspath(__file__)), "nginx_fixture.py"))
nf = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(nf)

N = 30           # modules of the project most tests build
N_LONG = 150     # of the one whose server is killed mid-build
N_DROP = 60      # of the builds against a failing server that count its requests
ENTRY_PATH = re.compile(r"^v1/([0-9a-f]{2})/([0-9a-f]{32})\.tce$")
WARN_REMOTE = re.compile(r"^tric: warning: remote cache ")


# ---------------------------------------------------------------- the project

def gen_project(d, n, seed=12):
    """d/src/m0..m{n-1}.tri: module k imports up to two earlier ones, calls their internal
    function and exports layerK (whose name, in the header, tells which module an entry is)."""
    rng = random.Random(seed)
    os.makedirs(os.path.join(d, "src"), exist_ok=True)
    for k in range(n):
        deps = sorted({rng.randrange(k) for _ in range(2)}) if k else []
        lines = ["import m%d;" % j for j in deps]
        lines.append("fn g%d(x: f32[...]) -> f32[...] { return tanh(x * %d.25) + x; }" % (k, k % 5 + 1))
        body = "g%d(x)" % k
        for j in deps:
            body = "m%d.g%d(%s)" % (j, j, body)
        lines.append("export fn layer%d(x: f32[B, 16], w: f32[16, 16]) -> f32[B, 16] { return softmax(%s @ w); }"
                     % (k, body))
        with open(os.path.join(d, "src", "m%d.tri" % k), "w") as f:
            f.write("\n".join(lines) + "\n")


def checkout(ctx, n=N, like=None):
    """A fresh folder with the project's sources (a copy of like's when given: another
    machine's checkout of the same commit, at another path)."""
    d = ctx.tmpdir()
    if like:
        shutil.copytree(os.path.join(like, "src"), os.path.join(d, "src"))
    else:
        gen_project(d, n)
    return d


def clean_env(cache, **extra):
    """The environment of one machine: its own local cache, no remote settings from the
    caller's environment, then extra (None removes)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRIC_REMOTE_CACHE")}
    env["TRIC_CACHE_DIR"] = cache
    for k, v in extra.items():
        if v is None:
            env.pop(k, None)
        else:
            env[k] = v
    return env


def build_argv(ctx, *extra):
    return [ctx.tric, "build", "src", "-o", "out", "--explain"] + list(extra)


def build(ctx, d, cache, *extra, env=None, timeout=300):
    return ctx.run(build_argv(ctx, *extra), cwd=d, env=env or clean_env(cache), timeout=timeout)


def outputs(d):
    out = {}
    root = os.path.join(d, "out")
    for base, _, files in os.walk(root):
        for f in files:
            p = os.path.join(base, f)
            out[os.path.relpath(p, root)] = open(p, "rb").read()
    return out


_reference, _reference_lock = {}, threading.Lock()


def reference(ctx, n=N):
    """The outputs of a build without any cache (memoised per tric and project size)."""
    with _reference_lock:
        if (ctx.tric, n) not in _reference:
            d = checkout(ctx, n)
            r = ctx.run([ctx.tric, "build", "src", "-o", "out", "--no-cache"], cwd=d,
                        env=clean_env(ctx.tmpdir()), timeout=600)
            if r.returncode:
                raise AssertionError("the build without a cache failed:\n" + r.stderr)
            _reference[(ctx.tric, n)] = outputs(d)
            shutil.rmtree(d, ignore_errors=True)
        return _reference[(ctx.tric, n)]


def same_outputs(got, want, what):
    if got == want:
        return None
    if sorted(got) != sorted(want):
        return "%s: files %s, expected %s" % (what, sorted(got), sorted(want))
    return "%s: not byte-identical in %s" % (what, sorted(k for k in got if got[k] != want[k]))


def explained(r):
    """{file: what --explain said about it} (its first explain line)."""
    out = {}
    for line in r.stderr.splitlines():
        if line.startswith("tric: explain: ") and ".tri: " in line:
            name, what = line[len("tric: explain: "):].split(": ", 1)
            out.setdefault(name, what)
    return out


def from_remote(r):
    return sorted(f for f, w in explained(r).items() if w.startswith("from the remote cache"))


def warnings(r):
    return [l for l in r.stderr.splitlines() if "warning:" in l]


def remote_warnings(r):
    return [l for l in r.stderr.splitlines() if WARN_REMOTE.match(l)]


def stats(ctx, cache):
    r = ctx.run([ctx.tric, "cache", "stats", "--json"], env=clean_env(cache))
    if r.returncode:
        raise AssertionError("tric cache stats --json: exit %d\n%s" % (r.returncode, r.stderr))
    return json.loads(r.stdout)


def stats_text(ctx, cache):
    """{'remote hits': N, ...} from the text `tric cache stats`."""
    r = ctx.run([ctx.tric, "cache", "stats"], env=clean_env(cache))
    out = {}
    for line in r.stdout.splitlines():
        m = re.match(r"^(remote [a-z]+):\s*(\d+)", line)
        if m:
            out[m.group(1)] = int(m.group(2))
    return out


def time_report_remote(r):
    """{'hits': N, 'misses': N, 'errors': N, ...} from the `remote cache:` line of
    --time-report (numbers before or after their word), or None without one."""
    for line in r.stderr.splitlines():
        s = line.strip()
        if s.startswith("remote cache:"):
            out = {}
            for word in ("hits", "misses", "errors", "received", "sent"):
                m = (re.search(r"(\d+)\s*(?:bytes\s+)?%s" % word, s) or
                     re.search(r"%s[:= ]\s*(\d+)" % word, s))
                if m:
                    out[word] = int(m.group(1))
            return out
    return None


def parse_entry(data):
    """(kind, key hex, {section kind: bytes}) of an entry file (docs/cache.md, "Layout and
    format"), or None if it is not one whose lengths add up."""
    if len(data) < 64 or data[:8] != b"TRICACHE":
        return None
    kind = struct.unpack_from("<I", data, 12)[0]
    key = data[16:32].hex()
    plen, nsec = struct.unpack_from("<QI", data, 32)
    if 64 + plen != len(data):
        return None
    secs, off = {}, 64
    for _ in range(nsec):
        sk, _, ln = struct.unpack_from("<IIQ", data, off)
        secs[sk] = data[off + 16:off + 16 + ln]
        off += 16 + ln
    return kind, key, secs


def module_of(data):
    """The module (m7) an entry holds the outputs of, from its header section's layerK."""
    e = parse_entry(data)
    m = e and re.search(rb"\blayer(\d+)\(", e[2].get(2, b""))
    return "m%s" % m.group(1).decode() if m else None


def verify_as_cache(ctx, srv):
    """`tric cache verify` over a copy of the server's tree laid out as a local cache (its
    v1/HH/HEX.tce files as v1/entries/HH/HEX.tce): checksums, and key = file name."""
    c = ctx.tmpdir()
    ctx.run([ctx.tric, "cache", "dir"], env=clean_env(c))  # nothing made yet; verify makes the layout
    shutil.copytree(os.path.join(srv.root, "v1"), os.path.join(c, "v1", "entries"), dirs_exist_ok=True)
    return ctx.run([ctx.tric, "cache", "verify"], env=clean_env(c))


def method_lines(srv, method, since=0):
    return [q for q in srv.requests()[since:] if q[0] == method]


def skip_why():
    why = nf.unavailable()
    return Skip(why) if why else None  # noqa: F821 (Skip: set by tests/run.py)


def fail_build(r, what):
    return "%s: exit %d\nstderr:\n%s" % (what, r.returncode, r.stderr[-4000:])


def machine_a(ctx, srv, n=N, *extra, env=None):
    """Machine A: its own checkout and cache, a cold build writing through to srv."""
    a, cache = checkout(ctx, n), ctx.tmpdir()
    r = build(ctx, a, cache, "--remote-cache=" + srv.url, *extra, env=env)
    return a, cache, r


# ---------------------------------------------------------------- the fixture itself

def test_nginx_fixture(ctx):
    """The server the other tests rely on: PUT creates the path, GET returns the bytes, a
    missing key is 404, the 500 variant refuses everything, the log records each request."""
    import urllib.error
    import urllib.request
    skip = skip_why()
    if skip:
        return skip
    tmp = ctx.tmpdir()
    body = os.urandom(100000)
    with nf.Nginx(tmp) as srv:
        req = urllib.request.Request(srv.url + "/v1/ab/" + "ab" * 16 + ".tce", data=body, method="PUT",
                                     headers={"Authorization": "Bearer t0k"})
        if urllib.request.urlopen(req, timeout=10).status not in (201, 204):
            return "PUT not accepted"
        if urllib.request.urlopen(srv.url + "/v1/ab/" + "ab" * 16 + ".tce", timeout=10).read() != body:
            return "GET did not return what PUT stored"
        try:
            urllib.request.urlopen(srv.url + "/v1/cd/" + "cd" * 16 + ".tce", timeout=10)
            return "a missing entry was served"
        except urllib.error.HTTPError as e:
            if e.code != 404:
                return "a missing entry answered %d, not 404" % e.code
        got = srv.requests()
        if [(m, s) for m, _, s in got] != [("PUT", 201), ("GET", 200), ("GET", 404)]:
            return "access log: %s" % got
        if srv.auth_lines()[0][2] != "Bearer t0k" or srv.auth_lines()[1][2] != "-":
            return "auth log: %s" % srv.auth_lines()
        if list(srv.entries()) != ["v1/ab/" + "ab" * 16 + ".tce"]:
            return "server root: %s" % list(srv.entries())
        port = srv.port
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return "nginx still listens after the fixture stopped it"
    except OSError:
        pass
    with nf.Nginx(tmp, fail=500) as srv:
        for method in ("GET", "PUT"):
            try:
                urllib.request.urlopen(urllib.request.Request(srv.url + "/v1/ab/x.tce", data=b"x" if method == "PUT"
                                                              else None, method=method), timeout=10)
                return "the 500 variant served a %s" % method
            except urllib.error.HTTPError as e:
                if e.code != 500:
                    return "the 500 variant answered %d" % e.code
        if srv.entries():
            return "the 500 variant stored a file"
    with nf.Nginx(tmp) as w:
        urllib.request.urlopen(urllib.request.Request(w.url + "/v1/ab/y.tce", data=b"y", method="PUT"), timeout=10)
        with nf.Nginx(tmp, read_only=True, root=w.root) as ro:
            if urllib.request.urlopen(ro.url + "/v1/ab/y.tce", timeout=10).read() != b"y":
                return "the read-only variant does not serve the other server's files"
            try:
                urllib.request.urlopen(urllib.request.Request(ro.url + "/v1/ab/z.tce", data=b"z", method="PUT"),
                                       timeout=10)
                return "the read-only variant took a PUT"
            except urllib.error.HTTPError as e:
                if e.code != 405:
                    return "the read-only variant answered a PUT %d, not 405" % e.code
    with nf.Nginx(tmp, fail=302) as srv:
        class NoRedirect(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *a):
                return None
        try:
            urllib.request.build_opener(NoRedirect).open(srv.url + "/v1/ab/x.tce", timeout=10)
            return "the 302 variant served a GET"
        except urllib.error.HTTPError as e:
            if e.code != 302 or not e.headers.get("Location", "").endswith("/elsewhere/"):
                return "the 302 variant answered %d, Location %s" % (e.code, e.headers.get("Location"))


# ---------------------------------------------------------------- two machines

def test_machine_b_builds_everything_from_the_remote(ctx):
    skip = skip_why()
    if skip:
        return skip
    with nf.Nginx(ctx.tmpdir()) as srv:
        a, cache_a, r = machine_a(ctx, srv)
        if r.returncode:
            return fail_build(r, "machine A, cold, --remote-cache=URL")
        if warnings(r):
            return "machine A warned:\n%s" % r.stderr
        if set(explained(r).values()) != {"rebuilt: no entry"} or len(explained(r)) != N:
            return "machine A's cold build, --explain: %s" % explained(r)
        # the layout: one entry per module, at v1/HH/HEX.tce, the local entry's bytes
        ents = srv.entries()
        if len(ents) != N:
            return "the server holds %d files after %d modules were written through (only module entries go " \
                   "there): %s" % (len(ents), N, sorted(ents)[:40])
        modules = {}
        for path, data in ents.items():
            m = ENTRY_PATH.match(path)
            if not m or m.group(1) != m.group(2)[:2]:
                return "server file %s is not at v1/HH/HEX.tce" % path
            e = parse_entry(data)
            if not e or e[0] != 1 or e[1] != m.group(2):
                return "server file %s is not a module entry of its key (%s)" % (path, e and e[:2])
            local = os.path.join(cache_a, "v1", "entries", m.group(1), m.group(2) + ".tce")
            if not os.path.exists(local) or open(local, "rb").read() != data:
                return "server file %s differs from machine A's local entry %s" % (path, local)
            modules[module_of(data)] = path
        if sorted(modules) != sorted("m%d" % k for k in range(N)):
            return "the server's entries are of modules %s" % sorted(modules)
        v = verify_as_cache(ctx, srv)
        if v.returncode or "%d entries checked, 0 corrupt, 0 misplaced" % N not in v.stdout:
            return "tric cache verify over the server's entries: %d\n%s%s" % (v.returncode, v.stdout, v.stderr)
        puts, gets = method_lines(srv, "PUT"), method_lines(srv, "GET")
        uris = sorted("/" + p for p in ents)
        if sorted(u for _, u, _ in puts) != uris or any(s not in (200, 201, 204) for _, _, s in puts):
            return "machine A's PUTs: %s" % puts
        if sorted(u for _, u, _ in gets) != uris or any(s != 404 for _, _, s in gets):
            return "machine A's lookups (one GET per module, all 404): %s" % gets
        sa = stats(ctx, cache_a)
        total = sum(len(x) for x in ents.values())
        if (sa.get("remote_hits"), sa.get("remote_misses"), sa.get("remote_errors")) != (0, N, 0) or \
                "remote_bytes_received" not in sa or not sa.get("remote_bytes_sent", 0) >= total:
            return "machine A's stats (entries total %d bytes): %s" % (total, sa)
        if sa.get("remote_puts", N) != N:
            return "machine A's stats count %s PUTs of %d: %s" % (sa.get("remote_puts"), N, sa)

        # machine B: same sources at another path, an empty local cache
        b, cache_b = checkout(ctx, like=a), ctx.tmpdir()
        seen = len(srv.requests())
        r = build(ctx, b, cache_b, "--remote-cache", srv.url, "--time-report")
        if r.returncode:
            return fail_build(r, "machine B, --remote-cache URL")
        want = sorted("src/m%d.tri" % k for k in range(N))
        if from_remote(r) != want:
            return "machine B: --explain says 'from the remote cache' for %d of %d modules: %s" % (
                len(from_remote(r)), N, {f: w for f, w in explained(r).items() if f not in from_remote(r)})
        if "tric: %d modules: 0 built, %d from cache, 0 failed" % (N, N) not in r.stderr or \
                "LLVM was not started" not in r.stderr:
            return "machine B compiled something:\n%s" % r.stderr
        rep = time_report_remote(r)
        if not rep or rep.get("hits") != N or rep.get("misses") != 0 or rep.get("errors") != 0 \
                or not rep.get("received", 0) >= total:
            return "machine B's --time-report remote cache line: %s\n%s" % (rep, r.stderr)
        if warnings(r):
            return "machine B warned:\n%s" % r.stderr
        err = same_outputs(outputs(b), outputs(a), "machine B's outputs against machine A's") or \
            same_outputs(outputs(b), reference(ctx), "machine B's outputs against a build without a cache")
        if err:
            return err
        after = srv.requests()[seen:]
        if sorted(q[1] for q in after) != uris or any(q[0] != "GET" or q[2] != 200 for q in after):
            return "machine B's requests (a GET per module, all 200, no PUT): %s" % after
        sb, tb = stats(ctx, cache_b), stats_text(ctx, cache_b)
        if (sb.get("remote_hits"), sb.get("remote_misses"), sb.get("remote_errors"), sb.get("remote_bytes_sent")) \
                != (N, 0, 0, 0) or not sb.get("remote_bytes_received", 0) >= total:
            return "machine B's stats --json: %s" % sb
        if (tb.get("remote hits"), tb.get("remote misses"), tb.get("remote errors")) != (N, 0, 0) or \
                "remote received" not in tb or tb.get("remote sent") != 0:
            return "machine B's tric cache stats lines: %s" % tb
        # a remote hit is stored in the local cache: without the remote it all comes from there
        for path, data in ents.items():
            m = ENTRY_PATH.match(path)
            local = os.path.join(cache_b, "v1", "entries", m.group(1), m.group(2) + ".tce")
            if not os.path.exists(local) or open(local, "rb").read() != data:
                return "the remote hit %s was not stored in machine B's local cache as it is" % path
        seen = len(srv.requests())
        r = build(ctx, b, cache_b, "--remote-cache=" + srv.url)
        if r.returncode or set(explained(r).values()) != {"reused from the cache"}:
            return "machine B's second build: %s\n%s" % (explained(r), r.stderr)
        if srv.requests()[seen:]:
            return "a build served by the local cache asked the remote: %s" % srv.requests()[seen:]


# ---------------------------------------------------------------- read-only

def test_read_only_client_never_puts(ctx):
    skip = skip_why()
    if skip:
        return skip
    ref = reference(ctx)
    with nf.Nginx(ctx.tmpdir()) as srv:
        for how, extra, env in (("--remote-cache-read-only", ["--remote-cache=" + srv.url, "--remote-cache-read-only"],
                                 {}),
                                ("TRIC_REMOTE_CACHE_READ_ONLY=1", [],
                                 {"TRIC_REMOTE_CACHE": srv.url, "TRIC_REMOTE_CACHE_READ_ONLY": "1"})):
            d, cache = checkout(ctx), ctx.tmpdir()
            seen = len(srv.requests())
            r = build(ctx, d, cache, *extra, env=clean_env(cache, **env))
            if r.returncode:
                return fail_build(r, "a read-only client (%s), cold" % how)
            got = srv.requests()[seen:]
            if [q for q in got if q[0] != "GET"] or srv.entries():
                return "a read-only client (%s) wrote: %s; server holds %s" % (how, got, sorted(srv.entries()))
            if len([q for q in got if q[0] == "GET" and q[2] == 404]) != N:
                return "a read-only client (%s) did not look each module up on the server: %s" % (how, got)
            if warnings(r):
                return "a read-only client (%s) warned:\n%s" % (how, r.stderr)
            err = same_outputs(outputs(d), ref, "read-only client's (%s) outputs" % how)
            if err:
                return err
        # filled by a writer, the server serves read-only clients
        machine_a(ctx, srv)
        puts = len(method_lines(srv, "PUT"))
        if puts != N:
            return "the writer PUT %d entries, expected %d" % (puts, N)
        d, cache = checkout(ctx), ctx.tmpdir()
        r = build(ctx, d, cache, env=clean_env(cache, TRIC_REMOTE_CACHE=srv.url, TRIC_REMOTE_CACHE_READ_ONLY="1"))
        if r.returncode or len(from_remote(r)) != N:
            return "a read-only client of a filled server: %d modules from the remote\n%s" % (len(from_remote(r)),
                                                                                              r.stderr)
        if len(method_lines(srv, "PUT")) != puts:
            return "a read-only client PUT after hits: %s" % method_lines(srv, "PUT")[puts:]
        err = same_outputs(outputs(d), ref, "read-only client's outputs from the remote")
        if err:
            return err


# ---------------------------------------------------------------- failures

def test_server_killed_mid_build(ctx):
    skip = skip_why()
    if skip:
        return skip
    ref = reference(ctx, N_LONG)
    with nf.Nginx(ctx.tmpdir()) as srv:
        d, cache = checkout(ctx, N_LONG), ctx.tmpdir()
        log = open(os.path.join(d, "stderr"), "w+")
        p = subprocess.Popen(build_argv(ctx, "--remote-cache=" + srv.url, "-j2"), cwd=d, env=clean_env(cache),
                             stdout=subprocess.DEVNULL, stderr=log)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and p.poll() is None and not method_lines(srv, "PUT"):
            time.sleep(0.005)
        running = p.poll() is None
        before = len(srv.requests())
        srv.kill()
        try:
            rc = p.wait(300)
        except subprocess.TimeoutExpired:
            p.kill()
            return "the build hung after the server was killed"
        log.seek(0)
        r = subprocess.CompletedProcess(p.args, rc, "", log.read())
        if not running and rc:
            return fail_build(r, "build whose server was to be killed (it ended first)")
        if not running:
            return "the build ended before the server was killed (%d requests served): the test measures nothing" % \
                before
        if not before:
            return "the build made no request before the server was killed (60 s)"
        if rc:
            return fail_build(r, "build whose server was killed")
        if len(remote_warnings(r)) != 1 or srv.url not in remote_warnings(r)[0]:
            return "expected one 'tric: warning: remote cache %s: ...' line, got:\n%s" % (srv.url, r.stderr[-3000:])
        err = same_outputs(outputs(d), ref, "outputs of the build whose server was killed")
        if err:
            return err
        if stats(ctx, cache).get("remote_errors", 0) < 1:
            return "the failure was not counted: %s" % stats(ctx, cache)
        v = ctx.run([ctx.tric, "cache", "verify"], env=clean_env(cache))
        if v.returncode:
            return "the local cache after the kill: %s%s" % (v.stdout, v.stderr)


def test_failing_server_costs_one_warning(ctx):
    """A server answering 500, 403 or a redirect to everything: one warning, no module
    from it, no PUT, the build as without a cache, the failure counted."""
    skip = skip_why()
    if skip:
        return skip
    for code in (500, 403, 302):
        with nf.Nginx(ctx.tmpdir(), fail=code) as srv:
            d, cache = checkout(ctx), ctx.tmpdir()
            r = build(ctx, d, cache, "--remote-cache=" + srv.url)
            if r.returncode:
                return fail_build(r, "build against a server answering %d" % code)
            w = remote_warnings(r)
            if len(w) != 1 or srv.url not in w[0] or len(warnings(r)) != 1:
                return "answering %d: expected one 'tric: warning: remote cache %s: ...' line, got:\n%s" % (
                    code, srv.url, r.stderr)
            if from_remote(r):
                return "modules 'from the remote cache' of a server answering %d: %s" % (code, from_remote(r))
            got = srv.requests()
            if not got:
                return "tric never asked the server answering %d (is the remote used at all?)" % code
            if [q for q in got if q[0] != "GET"]:
                return "tric wrote to a server that answered %d: %s" % (code, [q for q in got if q[0] != "GET"])
            err = same_outputs(outputs(d), reference(ctx), "outputs of a build against a server answering %d" % code)
            if err:
                return err
            if stats(ctx, cache).get("remote_errors", 0) < 1:
                return "the %d was not counted: %s" % (code, stats(ctx, cache))


def test_failing_server_is_dropped_at_once(ctx):
    """The remote is not used for the rest of a run once it failed: a build's GETs all fly
    at once on at most 8 connections (docs/cache.md, "Order"), and those not sent yet when
    the first failure comes back are never sent. So at most 12 requests (the 8 in flight,
    and slack) however many modules: checked on 60, twice each for a server that closes
    the connection after its answer (500) and for ones that keep it open (403, a redirect),
    where a transfer queued inside libcurl could otherwise start on a freed connection."""
    skip = skip_why()
    if skip:
        return skip
    ref = reference(ctx, N_DROP)
    for code in (500, 403, 302):
        for attempt in range(2):
            with nf.Nginx(ctx.tmpdir(), fail=code) as srv:
                d, cache = checkout(ctx, N_DROP), ctx.tmpdir()
                r = build(ctx, d, cache, "--remote-cache=" + srv.url)
                if r.returncode or len(remote_warnings(r)) != 1:
                    return fail_build(r, "build against a server answering %d (one warning expected)" % code)
                got = srv.requests()
                if len(got) > 12:
                    return "the remote was used after it answered %d (build %d): %d requests for %d modules" % (
                        code, attempt + 1, len(got), N_DROP)
                if attempt == 0:
                    err = same_outputs(outputs(d), ref, "outputs against a server answering %d" % code)
                    if err:
                        return err


def test_server_refusing_writes(ctx):
    """A server that serves GETs and answers PUTs 405 (nginx without dav_methods): the one
    module that misses compiles, one 'refuses writes' warning, the others still come from
    it."""
    skip = skip_why()
    if skip:
        return skip
    with nf.Nginx(ctx.tmpdir()) as srv:
        a, _, r = machine_a(ctx, srv)
        if r.returncode:
            return fail_build(r, "machine A")
        with nf.Nginx(ctx.tmpdir(), read_only=True, root=srv.root) as ro:
            c, cache = checkout(ctx, like=a), ctx.tmpdir()
            last = os.path.join(c, "src", "m%d.tri" % (N - 1))  # no module imports the last one
            with open(last, "a") as f:
                f.write("export fn extra(x: f32[N]) -> f32[N] { return x + 3; }\n")
            r = build(ctx, c, cache, "--remote-cache=" + ro.url)
            if r.returncode:
                return fail_build(r, "build against a server refusing writes")
            w = remote_warnings(r)
            if len(w) != 1 or "refuses writes" not in w[0] or ro.url not in w[0] or len(warnings(r)) != 1:
                return "expected one 'remote cache %s refuses writes' warning, got:\n%s" % (ro.url, r.stderr)
            want = sorted("src/m%d.tri" % k for k in range(N - 1))
            if from_remote(r) != want or not explained(r).get(last[len(c) + 1:], "").startswith("rebuilt"):
                return "against a server refusing writes: %s" % explained(r)
            puts = method_lines(ro, "PUT")
            if len(puts) != 1 or puts[0][2] != 405:
                return "PUTs to the server refusing writes: %s" % puts
            e = checkout(ctx, like=c)
            nr = ctx.run([ctx.tric, "build", "src", "-o", "out", "--no-cache"], cwd=e, env=clean_env(ctx.tmpdir()))
            err = same_outputs(outputs(c), outputs(e), "outputs against a server refusing writes")
            if nr.returncode or err:
                return err or nr.stderr


def test_damaged_and_misplaced_entries_are_not_used(ctx):
    """A byte flipped in the middle of one entry, another truncated, a third key's file
    replaced by a whole valid entry of another module, a fourth by an HTML page: each named
    in a warning, compiled, never stored locally, the good entry PUT over the bad one; the
    others still come from the remote."""
    skip = skip_why()
    if skip:
        return skip
    with nf.Nginx(ctx.tmpdir()) as srv:
        a, cache_a, r = machine_a(ctx, srv)
        if r.returncode:
            return fail_build(r, "machine A")
        by_module = {module_of(data): path for path, data in srv.entries().items()}
        if len(by_module) != N:
            return "machine A wrote %d module entries: %s" % (len(by_module), sorted(srv.entries()))
        original = srv.entries()
        flipped, truncated, misplaced, source = (by_module[m] for m in ("m7", "m12", "m20", "m3"))
        p = os.path.join(srv.root, flipped)
        data = bytearray(original[flipped])
        data[len(data) // 2] ^= 0x40
        open(p, "wb").write(bytes(data))
        open(os.path.join(srv.root, truncated), "wb").write(original[truncated][:len(original[truncated]) // 2])
        shutil.copyfile(os.path.join(srv.root, source), os.path.join(srv.root, misplaced))
        html = by_module["m25"]  # what a misconfigured proxy serves with 200
        open(os.path.join(srv.root, html), "w").write("<html><body><h1>Welcome to nginx!</h1></body></html>\n")
        bad = {"src/m7.tri": flipped, "src/m12.tri": truncated, "src/m20.tri": misplaced, "src/m25.tri": html}

        b, cache_b = checkout(ctx, like=a), ctx.tmpdir()
        r = build(ctx, b, cache_b, "--remote-cache=" + srv.url)
        if r.returncode:
            return fail_build(r, "machine B against damaged entries")
        for f, path in bad.items():
            key = ENTRY_PATH.match(path).group(2)
            if not [l for l in warnings(r) if key in l]:
                return "no warning names the key %s of the damaged entry of %s:\n%s" % (key, f, r.stderr)
            if explained(r).get(f, "").startswith("from the remote cache"):
                return "%s was taken from its damaged remote entry" % f
        rest = sorted("src/m%d.tri" % k for k in range(N) if "src/m%d.tri" % k not in bad)
        if from_remote(r) != rest:
            return "the sound entries should still come from the remote: %s" % explained(r)
        err = same_outputs(outputs(b), reference(ctx), "machine B's outputs against damaged entries")
        if err:
            return err
        for path in bad.values():  # what B's local cache holds of those keys is its own compile, if anything
            m = ENTRY_PATH.match(path)
            local = os.path.join(cache_b, "v1", "entries", m.group(1), m.group(2) + ".tce")
            if os.path.exists(local) and open(local, "rb").read() != original[path]:
                return "the damaged remote entry %s was stored in the local cache" % path
        v = ctx.run([ctx.tric, "cache", "verify"], env=clean_env(cache_b))
        if v.returncode:
            return "machine B's local cache: %s%s" % (v.stdout, v.stderr)
        now = srv.entries()
        if any(now[p] != original[p] for p in bad.values()):
            return "the damaged entries were not replaced by good ones: %s" % method_lines(srv, "PUT")[N:]


def one_warning_same_outputs(ctx, r, d, url, what):
    """None when build r against `what` at url gave exactly one warning, the remote's, and
    outputs in d byte-identical to a build without any cache; else what went wrong."""
    w = remote_warnings(r)
    if len(w) != 1 or url not in w[0] or len(warnings(r)) != 1:
        return "expected one 'tric: warning: remote cache %s: ...' line, got:\n%s" % (url, r.stderr)
    return same_outputs(outputs(d), reference(ctx), "outputs of a build against " + what)


def closed_port_url():
    return "http://127.0.0.1:%d" % nf.free_port()


def test_dead_url_costs_one_warning(ctx):
    url = closed_port_url()
    d, cache = checkout(ctx), ctx.tmpdir()
    r = build(ctx, d, cache, "--remote-cache=" + url, timeout=120)  # a hang fails here, not a timing
    if r.returncode:
        return fail_build(r, "build against a closed port")
    return one_warning_same_outputs(ctx, r, d, url, "a closed port")


def test_silent_server_times_out(ctx):
    """A server that accepts connections and never answers: TRIC_REMOTE_CACHE_TIMEOUT
    bounds the wait, one warning, the build goes on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(64)  # never accepted: the kernel completes the handshakes, nothing answers
        url = "http://127.0.0.1:%d" % s.getsockname()[1]
        d, cache = checkout(ctx), ctx.tmpdir()
        r = build(ctx, d, cache, env=clean_env(cache, TRIC_REMOTE_CACHE=url, TRIC_REMOTE_CACHE_TIMEOUT="1"),
                  timeout=120)
    if r.returncode:
        return fail_build(r, "build against a silent server")
    return one_warning_same_outputs(ctx, r, d, url, "a silent server")


# ---------------------------------------------------------------- many clients

def test_eight_clients_at_once(ctx):
    skip = skip_why()
    if skip:
        return skip
    ref = reference(ctx)
    with nf.Nginx(ctx.tmpdir()) as srv:
        first = checkout(ctx)
        machines = [(first, ctx.tmpdir())] + [(checkout(ctx, like=first), ctx.tmpdir()) for _ in range(7)]
        procs = []
        for d, cache in machines:
            log = open(os.path.join(d, "stderr"), "w+")
            procs.append((subprocess.Popen(build_argv(ctx, "--remote-cache=" + srv.url, "-j1"), cwd=d,
                                           env=clean_env(cache), stdout=subprocess.DEVNULL, stderr=log), log))
        hits = misses = 0
        for i, ((d, cache), (p, log)) in enumerate(zip(machines, procs)):
            try:
                rc = p.wait(600)
            except subprocess.TimeoutExpired:
                for q, _ in procs:
                    q.kill()
                return "client %d hung" % i
            log.seek(0)
            err = log.read()
            if rc or "warning:" in err:
                return "client %d: exit %d\n%s" % (i, rc, err[-3000:])
            e = same_outputs(outputs(d), ref, "client %d's outputs" % i)
            if e:
                return e
            s = stats(ctx, cache)
            hits, misses = hits + s.get("remote_hits", 0), misses + s.get("remote_misses", 0)
        if hits + misses != 8 * N:
            return "8 clients of %d modules: %d remote hits + %d misses" % (N, hits, misses)
        ents = srv.entries()
        if len(ents) != N:
            return "the server holds %d entries after 8 clients of %d modules" % (len(ents), N)
        v = verify_as_cache(ctx, srv)
        if v.returncode or "%d entries checked, 0 corrupt, 0 misplaced" % N not in v.stdout:
            return "the server's entries after 8 clients: %s%s" % (v.stdout, v.stderr)
        if [q for q in srv.requests() if q[2] >= 400 and q[2] != 404]:
            return "the server refused requests: %s" % [q for q in srv.requests() if q[2] >= 400 and q[2] != 404]


# ---------------------------------------------------------------- credentials

def test_bearer_token_sent_never_printed(ctx):
    skip = skip_why()
    if skip:
        return skip
    token = "tok-%016x" % random.getrandbits(64)
    with nf.Nginx(ctx.tmpdir()) as srv:
        d, cache = checkout(ctx), ctx.tmpdir()
        r = build(ctx, d, cache, "--remote-cache=" + srv.url, "-v", "--time-report",
                  env=clean_env(cache, TRIC_REMOTE_CACHE_TOKEN=token))
        if r.returncode:
            return fail_build(r, "build with TRIC_REMOTE_CACHE_TOKEN")
        sent = srv.auth_lines()
        if len(sent) < 2 * N or any(h != "Bearer " + token for _, _, h in sent):
            return "requests and their Authorization headers: %s" % sent[:10]
        if token in r.stdout + r.stderr:
            return "the token appears in tric's output"
        s = ctx.run([ctx.tric, "cache", "stats"], env=clean_env(cache, TRIC_REMOTE_CACHE_TOKEN=token))
        if token in s.stdout + s.stderr:
            return "the token appears in tric cache stats"
    for what, srv_args in (("a server answering 500", {"fail": 500}), ("a closed port", None)):
        if srv_args is None:
            url, srv = closed_port_url(), None
        else:
            srv = nf.Nginx(ctx.tmpdir(), **srv_args)
            url = srv.url
        try:
            d, cache = checkout(ctx), ctx.tmpdir()
            r = build(ctx, d, cache, "--remote-cache=" + url, env=clean_env(cache, TRIC_REMOTE_CACHE_TOKEN=token),
                      timeout=120)
            if r.returncode or len(remote_warnings(r)) != 1:
                return fail_build(r, "build with a token against %s (one warning expected)" % what)
            if token in r.stdout + r.stderr:
                return "the token appears in the failure message against %s:\n%s" % (what, r.stderr)
            if srv and not any(h == "Bearer " + token for _, _, h in srv.auth_lines()):
                return "the token did not reach %s: %s" % (what, srv.auth_lines())
        finally:
            if srv:
                srv.stop()


def test_basic_auth_sent_never_printed(ctx):
    skip = skip_why()
    if skip:
        return skip
    user, pw = "ci", "pw-%016x" % random.getrandbits(64)
    basic = base64.b64encode(("%s:%s" % (user, pw)).encode()).decode()
    with nf.Nginx(ctx.tmpdir()) as srv:
        d, cache = checkout(ctx), ctx.tmpdir()
        r = build(ctx, d, cache, "--remote-cache=" + srv.url, "-v",
                  env=clean_env(cache, TRIC_REMOTE_CACHE_USERPWD="%s:%s" % (user, pw)))
        if r.returncode:
            return fail_build(r, "build with TRIC_REMOTE_CACHE_USERPWD")
        sent = srv.auth_lines()
        if len(sent) < 2 * N or any(h != "Basic " + basic for _, _, h in sent):
            return "requests and their Authorization headers: %s" % sent[:10]
        if pw in r.stdout + r.stderr or basic in r.stdout + r.stderr:
            return "the password appears in tric's output"
    with nf.Nginx(ctx.tmpdir(), fail=500) as srv:
        d, cache = checkout(ctx), ctx.tmpdir()
        r = build(ctx, d, cache, "--remote-cache=" + srv.url,
                  env=clean_env(cache, TRIC_REMOTE_CACHE_USERPWD="%s:%s" % (user, pw)))
        if r.returncode or len(remote_warnings(r)) != 1:
            return fail_build(r, "build with basic auth against a server answering 500 (one warning expected)")
        if pw in r.stdout + r.stderr or basic in r.stdout + r.stderr:
            return "the password appears in the failure message:\n%s" % r.stderr
    # a URL with user:password@ is shown without it
    url = closed_port_url()
    d, cache = checkout(ctx), ctx.tmpdir()
    r = build(ctx, d, cache, "--remote-cache=" + url.replace("//", "//%s:%s@" % (user, pw)), timeout=120)
    if r.returncode or len(remote_warnings(r)) != 1 or url not in remote_warnings(r)[0]:
        return fail_build(r, "build against %s with user:password@ (one warning naming the URL expected)" % url)
    if pw in r.stdout + r.stderr:
        return "the password of the URL appears in the failure message:\n%s" % r.stderr


# ---------------------------------------------------------------- options

def test_options_and_environment(ctx):
    """TRIC_REMOTE_CACHE turns the remote on; the command line wins over it;
    --no-remote-cache and --no-cache turn it off."""
    skip = skip_why()
    if skip:
        return skip
    with nf.Nginx(ctx.tmpdir()) as srv:
        d, cache = checkout(ctx), ctx.tmpdir()
        r = build(ctx, d, cache, env=clean_env(cache, TRIC_REMOTE_CACHE=srv.url))
        if r.returncode or len(method_lines(srv, "PUT")) != N:
            return "TRIC_REMOTE_CACHE=URL: exit %d, %d PUTs\n%s" % (r.returncode, len(method_lines(srv, "PUT")),
                                                                   r.stderr)
        for what, extra, env in (("--no-remote-cache", ["--no-remote-cache"], {"TRIC_REMOTE_CACHE": srv.url}),
                                 ("--no-cache", ["--no-cache", "--remote-cache=" + srv.url], {}),
                                 ("--no-cache with TRIC_REMOTE_CACHE", ["--no-cache"], {"TRIC_REMOTE_CACHE": srv.url})):
            e, c = checkout(ctx), ctx.tmpdir()
            seen = len(srv.requests())
            r = build(ctx, e, c, *extra, env=clean_env(c, **env))
            if r.returncode or (what == "--no-remote-cache" and warnings(r)):
                return fail_build(r, what)
            if srv.requests()[seen:]:
                return "%s still asked the remote: %s" % (what, srv.requests()[seen:][:5])
            if from_remote(r):
                return "%s: modules from the remote cache: %s" % (what, from_remote(r))
        # the command line wins over the environment
        e, c = checkout(ctx), ctx.tmpdir()
        r = build(ctx, e, c, "--remote-cache=" + srv.url, env=clean_env(c, TRIC_REMOTE_CACHE=closed_port_url()))
        if r.returncode or warnings(r) or len(from_remote(r)) != N:
            return "--remote-cache=URL over a dead TRIC_REMOTE_CACHE: %d from the remote\n%s" % (
                len(from_remote(r)), r.stderr)


def test_bad_url_or_timeout_is_a_usage_error(ctx):
    """docs/cli.md: a URL that is not http:// or https:// is a usage error (exit 2), said
    before any work (no output written), naming the value; so is a timeout that is not a
    number of seconds. Credentials in such a URL are not shown (tric shows none of it)."""
    d, cache = checkout(ctx), ctx.tmpdir()
    for what, extra, env, shown in (
            ("--remote-cache=ftp://...", ["--remote-cache=ftp://ci:s3cr3t-pw@127.0.0.1/x"], {}, "--remote-cache"),
            ("TRIC_REMOTE_CACHE=cache.internal", [], {"TRIC_REMOTE_CACHE": "cache.internal:8080"}, "cache.internal:8080"),
            ("TRIC_REMOTE_CACHE_TIMEOUT=abc", ["--remote-cache=" + closed_port_url()],
             {"TRIC_REMOTE_CACHE_TIMEOUT": "abc"}, "abc")):
        r = build(ctx, d, cache, *extra, env=clean_env(cache, **env), timeout=60)
        if r.returncode != 2 or shown not in r.stderr or "error" not in r.stderr:
            return fail_build(r, "%s: expected a usage error (exit 2) naming %r" % (what, shown))
        if os.path.exists(os.path.join(d, "out")):
            return "%s: outputs were written before the usage error" % what
        if "s3cr3t-pw" in r.stderr:
            return "%s: the URL's password is shown:\n%s" % (what, r.stderr)


def _races():
    spec = importlib.util.spec_from_file_location("cli_races_for_remote", os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "races.py"))
    mod = importlib.util.module_from_spec(spec)
    mod.Skip = Skip  # noqa: F821 (set by tests/run.py)
    spec.loader.exec_module(mod)
    return mod.races_in_tric


def test_remote_thread_has_no_data_races(ctx):
    """tric built with ThreadSanitizer (--tsan-tric): a cold build writing through (PUTs in
    the background while modules compile), a build served by the remote (GETs on the
    remote's thread while the loop thread checks modules), and one whose server dies
    mid-build: no race report whose racing access is in tric's own code."""
    if ctx.sanitized:
        return Skip("runs once, with the ThreadSanitizer build")  # noqa: F821
    if not ctx.tsan_tric:
        return Skip("no ThreadSanitizer build given (--tsan-tric; make test gives one)")  # noqa: F821
    skip = skip_why()
    if skip:
        return skip
    races_in_tric = _races()
    env_extra = {"TSAN_OPTIONS": "halt_on_error=0 exitcode=0"}
    with nf.Nginx(ctx.tmpdir()) as srv:
        a, b = checkout(ctx), None
        b = checkout(ctx, like=a)
        for what, d in (("write-through", a), ("from the remote", b)):
            cache = ctx.tmpdir()
            r = ctx.run([ctx.tsan_tric, "build", "src", "-o", "out", "--explain", "-j2", "--remote-cache=" + srv.url],
                        cwd=d, env=clean_env(cache, **env_extra), timeout=600)
            if "FATAL: ThreadSanitizer" in r.stderr:
                return Skip("ThreadSanitizer cannot run here: %s" % r.stderr.strip().split("\n")[0][:200])  # noqa
            if r.returncode:
                return fail_build(r, "tsan build, %s" % what)
            if what == "from the remote" and len(from_remote(r)) != N:
                return "tsan build from the remote: %d of %d modules from it" % (len(from_remote(r)), N)
            races = races_in_tric(r.stderr)
            if races:
                return "data race in tric's own code (%s):\n%s" % (what, races[0])
        d, cache = checkout(ctx, N), ctx.tmpdir()
        log = open(os.path.join(d, "stderr"), "w+")
        p = subprocess.Popen([ctx.tsan_tric, "build", "src", "-o", "out", "-j2", "--remote-cache=" + srv.url + "/other"],
                             cwd=d, env=clean_env(cache, **env_extra), stdout=subprocess.DEVNULL, stderr=log)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and p.poll() is None and not any(
                q[0] == "PUT" and "/other/" in q[1] for q in srv.requests()):
            time.sleep(0.01)
        srv.kill()
        try:
            rc = p.wait(600)
        except subprocess.TimeoutExpired:
            p.kill()
            return "the tsan build hung after the server was killed"
        log.seek(0)
        err = log.read()
        if rc:
            return "tsan build whose server was killed: exit %d\n%s" % (rc, err[-3000:])
        races = races_in_tric(err)
        if races:
            return "data race in tric's own code (server killed mid-build):\n%s" % races[0]
