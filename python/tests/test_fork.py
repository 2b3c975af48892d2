"""fork() without exec, as servers that fork their workers do: the child gets
ForkedError from every call on a cache it inherited, creates and uses new
caches normally, and exits normally although a thread of the parent was
inside a callback at the fork (that thread does not exist in the child).

The forking runs in a subprocess of its own, so that its child can exit
through the interpreter's normal shutdown (atexit included), which a child
of pytest's process must not do."""
import os
import subprocess
import sys
import textwrap

import pce

SCRIPT = textwrap.dedent("""
    import os, sys, threading, time
    import pce

    inside, resume = threading.Event(), threading.Event()

    def on_event(ev):
        if ev.value == 99:  # park the storing thread inside the callback
            inside.set()
            resume.wait()

    c = pce.Cache(on_event=on_event)
    c.store([1, 2, 3], 1)
    pin = c.lookup([1, 2, 3], pin=True).pin
    storer = threading.Thread(target=c.store, args=([7, 7], 99))
    storer.start()
    inside.wait()

    pid = os.fork()
    if pid == 0:
        failed = []

        def forked(call, *args, **kw):
            try:
                call(*args, **kw)
            except pce.ForkedError as e:
                if e.code != pce.ForkedError.code or "PCE_EFORKED" not in str(e):
                    failed.append(call.__name__ + ": " + str(e))
            except Exception as e:
                failed.append(call.__name__ + " raised " + repr(e))
            else:
                failed.append(call.__name__ + " did not raise")

        forked(c.lookup, [1, 2, 3])
        forked(c.store, [4, 5], 2)
        forked(c.remove, [1, 2, 3])
        forked(c.remove_prefix, [1])
        forked(c.touch, [1, 2, 3])
        forked(c.evict, 1, "entries")
        forked(c.set_budgets, max_entries=1)
        forked(c.stats)
        forked(c.reclaim)
        forked(pin.release)
        forked(c.close)
        assert not c.closed
        got = []
        with pce.Cache(on_event=got.append, on_release=got.append) as fresh:
            fresh.store([1, 2, 3], 5)
            assert fresh.lookup([1, 2]).value == 5
            assert fresh.evict(1, "entries").complete
        assert [type(x).__name__ for x in got] == ["Event", "Event", "Released"], got
        if failed:
            print("\\n".join(failed))
            sys.exit(1)
        print("child ok")
        sys.exit(0)  # interpreter shutdown: atexit, then the inherited cache

    deadline = time.monotonic() + 60
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done or time.monotonic() > deadline:
            break
        time.sleep(0.01)
    if not done:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        print("child hung")
    resume.set()
    storer.join()
    pin.release()
    assert c.lookup([7, 7]).value == 99 and c.stats()["entries"] == 2
    c.close()
    sys.exit(0 if done and os.waitstatus_to_exitcode(status) == 0 else 1)
""")


def test_fork_inherited_cache_raises_and_fresh_caches_work():
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(pce.__file__)))
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                         timeout=120, env=env)
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout == "child ok\n"
    assert "Exception ignored" not in out.stderr, out.stderr
