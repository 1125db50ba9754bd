"""Data races in the parallel builder, found by tric built with ThreadSanitizer (make tsan):
kernel units of one module compile at once on the pool, and nothing they share may be
written by one while another reads it (two units once shared one LLVM target machine
through the job's machines pointer; ASan runs saw a use-after-free in MCContext and
'symbol tric.kernel is already defined'). LLVM itself is not instrumented, so only a
report whose racing access is in tric's own code counts: LLVM's lazily made statics give
TSan reports of their own that say nothing of tric."""
import os
import re

TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

OURS = re.compile(r"^\s+#0 .* (cmd|cache|codegen|typecheck|frontend)/[\w.]+\.c:\d+")


def races_in_tric(stderr):
    """The TSan reports in stderr whose racing access (a frame #0 right after an access
    line) is in tric's own source, as text."""
    found = []
    for report in stderr.split("WARNING: ThreadSanitizer")[1:]:
        lines = report.split("\n")
        for i, l in enumerate(lines[:-1]):
            if re.search(r"(Read|Write|read|write) of size \d+", l) and OURS.match(lines[i + 1]):
                found.append("\n".join(lines[:12]))
                break
    return found


def test_parallel_kernel_units_share_nothing(ctx):
    if ctx.sanitized:
        return Skip("runs once, with the ThreadSanitizer build")
    if not ctx.tsan_tric:
        return Skip("no ThreadSanitizer build given (--tsan-tric; make test gives one)")
    src = os.path.join(TESTS, "e2e", "models.tri")  # several kernels in one module
    for i in range(4):
        d = ctx.tmpdir()
        env = dict(os.environ, TSAN_OPTIONS="halt_on_error=0 exitcode=0")
        r = ctx.run([ctx.tsan_tric, "build", "--no-cache", "-j2", src, "-o", os.path.join(d, "m.o")], env=env,
                    timeout=300)
        if "FATAL: ThreadSanitizer" in r.stderr:  # e.g. a kernel whose address-space layout TSan cannot use
            return Skip("ThreadSanitizer cannot run here: %s" % r.stderr.strip().split("\n")[0][:200])
        if r.returncode:
            return "tsan build %d: exit %d\n%s" % (i, r.returncode, r.stderr[-3000:])
        races = races_in_tric(r.stderr)
        if races:
            return "data race in tric's own code (run %d):\n%s" % (i, races[0])
