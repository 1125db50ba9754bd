"""CLI behaviour: usage, version, exit statuses."""


def test_version(ctx):
    r = ctx.run([ctx.tric, "--version"])
    if r.returncode != 0 or not r.stdout.startswith("tric "):
        return "tric --version: %d %r" % (r.returncode, r.stdout)


def test_prune_names_the_bad_value(ctx):
    """tric cache prune with a value it cannot read: exit 2 and a message naming the value."""
    import shutil
    import tempfile
    cache = tempfile.mkdtemp(prefix="tric-test-cache-")
    for argv, named in ((["--max-size", "lots"], "'lots'"), (["--max-size=12Q"], "'12Q'"),
                        (["--max-age", "forever"], "'forever'"), (["--max-size"], "--max-size needs a value"),
                        (["--frob"], "'--frob'")):
        r = ctx.run([ctx.tric, "cache", "prune", "--cache-dir", cache] + argv)
        if r.returncode != 2 or named not in r.stderr:
            return "prune %s: exit %d, message %r does not name %s" % (" ".join(argv), r.returncode, r.stderr, named)
    r = ctx.run([ctx.tric, "cache", "prune", "--cache-dir", cache, "--max-size", "1G", "--max-age=30d"])
    if r.returncode or "removed 0 entries" not in r.stdout:
        return "prune with good values: %d %s" % (r.returncode, r.stderr)
    shutil.rmtree(cache)
