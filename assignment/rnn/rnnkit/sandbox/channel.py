"""The two pipes to the student process, read and written with deadlines: with
select() where it works on pipes (POSIX), else with reader and writer threads (Windows,
where the student's self-check runs too)."""
import os
import queue
import select
import threading
import time


class Channel:
    """The two pipes to the student process, read and written with deadlines: with
    select() where it works on pipes (POSIX), else with threads (Windows)."""

    def __init__(self, to_child, from_child):
        self._to, self._from = to_child, from_child
        self._buffer = bytearray()
        self._selectable = _select_works_on_pipes()
        if self._selectable:
            os.set_blocking(self._to.fileno(), False)
        else:
            self._chunks = queue.Queue()
            threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        fd = self._from.fileno()
        while True:
            try:
                chunk = os.read(fd, 1 << 20)
            except OSError:
                chunk = b""
            self._chunks.put(chunk)
            if not chunk:
                return

    def write(self, data: bytes, deadline: float) -> bool:
        """True when all of data was written before the deadline."""
        if not self._selectable:
            done = []

            def send():
                try:
                    self._to.write(data)
                    self._to.flush()
                    done.append(True)
                except OSError as exc:
                    done.append(exc)
            writer = threading.Thread(target=send, daemon=True)
            writer.start()
            writer.join(max(deadline - time.monotonic(), 0))
            if done and isinstance(done[0], OSError):
                raise done[0]
            return bool(done)
        fd, view = self._to.fileno(), memoryview(data)
        while view:  # written at once while the pipe has room (most messages)
            try:
                view = view[os.write(fd, view[:1 << 16]):]
                continue
            except BlockingIOError:  # the pipe is full: wait until the process reads
                pass
            if not select.select([], [fd], [], max(deadline - time.monotonic(), 0))[1]:
                return False
        return True

    def read_exactly(self, n: int, deadline: float, idle=None) -> bytes | None:
        """n bytes; fewer at end of file; None when the deadline passed first. idle():
        called while nothing has come and time remains, until it returns False."""
        while len(self._buffer) < n:
            if idle is not None and time.monotonic() < deadline and not self._arrived():
                idle = idle if idle() else None
                continue
            remaining = max(deadline - time.monotonic(), 0)
            if self._selectable:
                if not select.select([self._from], [], [], remaining)[0]:
                    return None
                # at least 64 KB: a message's length and the message in one read
                wanted = min(max(n - len(self._buffer), 1 << 16), 1 << 20)
                chunk = os.read(self._from.fileno(), wanted)
            else:
                try:
                    chunk = self._chunks.get(timeout=remaining)
                except queue.Empty:
                    return None
                if not chunk:
                    self._chunks.put(chunk)  # end of file stays end of file
            if not chunk:
                break
            self._buffer += chunk
        data = bytes(self._buffer[:n])
        del self._buffer[:n]
        return data

    def unsolicited(self) -> bool:
        """Did the process write something nobody asked for?"""
        return bool(self._buffer) or self._arrived()

    def _arrived(self) -> bool:
        """Is there something to read in the pipe now?"""
        if self._selectable:
            return bool(select.select([self._from], [], [], 0)[0])
        return not self._chunks.empty()

    def close(self) -> None:
        for pipe in (self._to, self._from):
            try:
                pipe.close()
            except OSError:
                pass


_SELECT_ON_PIPES: list[bool] = []


def _select_works_on_pipes() -> bool:
    if not _SELECT_ON_PIPES:
        r, w = os.pipe()
        try:
            select.select([r], [], [], 0)
            _SELECT_ON_PIPES.append(True)
        except (OSError, ValueError):
            _SELECT_ON_PIPES.append(False)
        finally:
            os.close(r)
            os.close(w)
    return _SELECT_ON_PIPES[0]
