"""Batching of concurrent requests: the windows of many requests go through the model in one call.

A :class:`Batcher` owns one worker thread.  Callers (request handlers, WebSocket sessions) submit
feature arrays ``(n, frames, bins)``; the worker takes whatever is queued - at least one
submission, more while they keep coming within ``max_wait_ms`` and the batch holds fewer than
``max_batch`` rows - runs the model once on the concatenation and hands each caller its rows.
Under load the queue fills while the model runs, so batches grow by themselves; with one client
there is no waiting (``max_wait_ms=0`` by default).  The model call runs off the event loop.

Examples
--------
>>> import numpy as np
>>> b = Batcher(lambda x: x.sum(axis=(1, 2))[:, None], max_batch=8)
>>> b.submit(np.ones((2, 3, 4), np.float32)).result().ravel().tolist()
[12.0, 12.0]
>>> b.close()
"""
from __future__ import annotations

import asyncio
import queue
import threading
import time
from concurrent.futures import Future

import numpy as np

__all__ = ["Batcher"]


class Batcher:
    """One worker thread batching ``predict(x)`` calls (see the module docs)."""

    def __init__(self, predict, *, max_batch: int = 64, max_wait_ms: float = 0.0, name: str = "model"):
        self.predict = predict
        self.max_batch = int(max_batch)
        self.max_wait = float(max_wait_ms) / 1000.0
        self.name = name
        self._q: queue.SimpleQueue = queue.SimpleQueue()
        self._closed = False
        self._calls = 0
        self._rows = 0
        self._submissions = 0
        self._busy = 0.0
        self._thread = threading.Thread(target=self._loop, name=f"batcher-{name}", daemon=True)
        self._thread.start()

    # -- callers ----------------------------------------------------------------------------------
    def submit(self, x: np.ndarray) -> Future:
        """Queue features ``(n, ...)``; the future's result is the model's ``(n, C)`` output."""
        fut: Future = Future()
        if self._closed:
            fut.set_exception(RuntimeError("the batcher is closed"))
            return fut
        self._q.put((np.asarray(x, dtype=np.float32), fut))
        return fut

    async def run(self, x: np.ndarray) -> np.ndarray:
        """``await batcher.run(x)`` from the event loop."""
        return await asyncio.wrap_future(self.submit(x))

    def stats(self) -> dict:
        return {"calls": self._calls, "submissions": self._submissions, "rows": self._rows,
                "mean_rows_per_call": round(self._rows / self._calls, 2) if self._calls else 0.0,
                "busy_seconds": round(self._busy, 3), "max_batch": self.max_batch}

    def close(self) -> None:
        self._closed = True
        self._q.put(None)
        self._thread.join(timeout=5)

    # -- worker -----------------------------------------------------------------------------------
    def _loop(self) -> None:
        while True:
            first = self._q.get()
            if first is None:
                return
            items = [first]
            rows = len(first[0])
            deadline = time.monotonic() + self.max_wait
            stop = False
            while rows < self.max_batch:
                try:
                    left = deadline - time.monotonic()
                    it = self._q.get(timeout=left) if left > 0 else self._q.get_nowait()
                except queue.Empty:
                    break
                if it is None:
                    stop = True
                    break
                items.append(it)
                rows += len(it[0])
            self._run(items)
            if stop:
                return

    def _run(self, items) -> None:
        t0 = time.perf_counter()
        try:
            shapes = {x.shape[1:] for x, _ in items}
            if len(shapes) == 1:
                x = np.concatenate([x for x, _ in items]) if len(items) > 1 else items[0][0]
                out = np.asarray(self.predict(x))
                i = 0
                for xi, fut in items:
                    fut.set_result(out[i:i + len(xi)])
                    i += len(xi)
            else:  # differently shaped inputs (should not happen for one model): one call each
                for xi, fut in items:
                    fut.set_result(np.asarray(self.predict(xi)))
        except Exception as exc:  # the model failed: every caller of this batch learns why
            for _, fut in items:
                if not fut.done():
                    fut.set_exception(exc)
        finally:
            self._calls += 1
            self._submissions += len(items)
            self._rows += sum(len(x) for x, _ in items)
            self._busy += time.perf_counter() - t0
