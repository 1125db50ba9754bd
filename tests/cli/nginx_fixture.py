"""A throw-away nginx serving a remote build cache (docs/cache.md, "Remote cache"), for
tests/cli/remote.py and benchmarks/remote.py. No test_ functions: tests/run.py loads it
and finds nothing to run.

    with Nginx(tmpdir) as srv:          # WebDAV PUT/DELETE under srv.root, on srv.url
        ...                             # srv.requests(): [(method, uri, status)], srv.auth_lines()
    Nginx(tmpdir, fail=500)             # every request answered 500 (302: redirected elsewhere)
    Nginx(tmpdir, read_only=True, root=other.root)   # GET only (PUT: 405), over another's files
    srv.kill()                          # SIGKILL, mid-build

Debian's nginx runs in the foreground as a child (daemon off, master_process off: one
process, which also keeps it as the user who started it, so it can write under a temporary
folder as root or not) with every path it writes (pid, logs, request-body temporary files)
inside its own folder, on 127.0.0.1 and a free port. unavailable() says why it cannot run
here (not installed, or a build without the WebDAV module); callers report that as a skip.
"""
import os
import shutil
import signal
import socket
import subprocess
import time

NGINX = os.environ.get("TRIC_TEST_NGINX", "/usr/sbin/nginx")  # another nginx binary, or a missing one to see the skips

CONF = """\
daemon off;
master_process off;
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 512; }}
http {{
    log_format ops '$request_method $uri $status';
    log_format auth '$request_method $uri "$http_authorization"';
    access_log {dir}/access.log ops;
    access_log {dir}/auth.log auth;
    client_body_temp_path {dir}/tmp/body;
    proxy_temp_path {dir}/tmp/proxy;
    fastcgi_temp_path {dir}/tmp/fastcgi;
    uwsgi_temp_path {dir}/tmp/uwsgi;
    scgi_temp_path {dir}/tmp/scgi;
    default_type application/octet-stream;
    sendfile on;
    keepalive_requests 100000;
    server {{
        listen 127.0.0.1:{port};
        server_name localhost;
        root {root};
        log_not_found off;
        location / {{
{location}
        }}
    }}
}}
"""

DAV = """\
            dav_methods PUT DELETE;
            create_full_put_path on;
            dav_access user:rw group:r all:r;
            client_max_body_size 0;"""


class Unavailable(Exception):
    """nginx cannot run here; the message says why (a test reports it as a skip)."""


def unavailable():
    """None if nginx can serve the cache here, else why not."""
    if not os.access(NGINX, os.X_OK):
        how = "run `make test-deps` as root" if os.getuid() == 0 else "as root: apt-get install -y nginx"
        return "%s is not installed (%s)" % (NGINX, how)
    r = subprocess.run([NGINX, "-V"], capture_output=True, text=True)
    if "--with-http_dav_module" not in r.stderr + r.stdout:
        return "%s is built without the WebDAV module (dav_methods PUT)" % NGINX
    return None


def free_port():
    """A port nothing listens on right now (bound, then closed: connecting to it is refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Nginx:
    def __init__(self, parent, fail=None, read_only=False, root=None):
        """parent: a folder to work in (a subfolder is made). fail=CODE: every request is
        answered CODE instead of being served. read_only: no WebDAV (a PUT is 405). root:
        serve that folder (another server's) rather than one of its own."""
        why = unavailable()
        if why:
            raise Unavailable(why)
        self.dir = os.path.join(parent, "nginx-%d" % time.monotonic_ns())
        self.root = root or os.path.join(self.dir, "root")
        for sub in ("root", "tmp"):
            os.makedirs(os.path.join(self.dir, sub))
        self.fail, self.read_only = fail, read_only
        self.proc = None
        self.log = os.path.join(self.dir, "access.log")
        self.auth_log = os.path.join(self.dir, "auth.log")
        self.start()

    # ------------------------------------------------------------ life cycle

    def start(self):
        if self.fail is not None:
            location = "            return %d%s;" % (self.fail, " /elsewhere/" if 300 <= self.fail < 400 else "")
        else:
            location = "" if self.read_only else DAV
        last = ""
        for _ in range(5):  # another process may take the free port between the probe and nginx's bind
            self.port = free_port()
            self.url = "http://127.0.0.1:%d" % self.port
            conf = os.path.join(self.dir, "nginx.conf")
            with open(conf, "w") as f:
                f.write(CONF.format(dir=self.dir, root=self.root, port=self.port, location=location))
            self.stderr = open(os.path.join(self.dir, "stderr"), "w+")
            # -e: the error log nginx opens before it reads the configuration; -p: its prefix
            self.proc = subprocess.Popen([NGINX, "-p", self.dir, "-e", os.path.join(self.dir, "early-error.log"),
                                          "-c", conf], stdin=subprocess.DEVNULL, stdout=self.stderr,
                                         stderr=self.stderr, start_new_session=True)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    break
                try:
                    socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                    return
                except OSError:
                    time.sleep(0.02)
            self.kill()
            last = self.errors()
            if "Address already in use" not in last:
                break
        raise RuntimeError("nginx did not start (%s):\n%s" % (" ".join(self.proc.args), last))

    def kill(self):
        """SIGKILL now, and reap it (the port is closed when this returns)."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
        if self.proc:
            self.stderr.close()

    def stop(self):
        """A clean stop (SIGQUIT lets nginx finish the log lines), SIGKILL if it lingers."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                pass
        self.kill()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
        if exc[0] is None:
            shutil.rmtree(self.dir, ignore_errors=True)  # kept on failure, to look at
        return False

    # ------------------------------------------------------------ what it saw

    def errors(self):
        out = []
        for name in ("stderr", "early-error.log", "error.log"):
            p = os.path.join(self.dir, name)
            if os.path.exists(p):
                out.append(open(p, errors="replace").read())
        return "".join(out)

    def requests(self):
        """[(method, uri, status)] in the order nginx logged them."""
        if not os.path.exists(self.log):
            return []
        out = []
        for line in open(self.log, errors="replace"):
            w = line.split()
            if len(w) == 3:
                out.append((w[0], w[1], int(w[2])))
        return out

    def auth_lines(self):
        """[(method, uri, Authorization header as sent, '-' if none)]."""
        if not os.path.exists(self.auth_log):
            return []
        out = []
        for line in open(self.auth_log, errors="replace"):
            method, uri, rest = line.rstrip("\n").split(" ", 2)
            out.append((method, uri, rest.strip('"')))
        return out

    def entries(self):
        """{relative path: bytes} of every file under the server's root."""
        out = {}
        for base, _, files in os.walk(self.root):
            for f in files:
                p = os.path.join(base, f)
                out[os.path.relpath(p, self.root)] = open(p, "rb").read()
        return out
