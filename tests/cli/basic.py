"""CLI behaviour: usage, version, exit statuses."""


def test_version(ctx):
    r = ctx.run([ctx.tric, "--version"])
    if r.returncode != 0 or not r.stdout.startswith("tric "):
        return "tric --version: %d %r" % (r.returncode, r.stdout)
