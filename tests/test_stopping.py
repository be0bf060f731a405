"""tfstyle.workflows.stopping: a signal is answered from the main thread while the work
runs in a worker; the stop waits for final files, is passed on once, and a
worker stuck in a long op has its savers called. Real SIGINTs to this
process, sent by a timer while run_in_worker waits."""

import os
import signal
import threading
import time

import pytest

from tfstyle.workflows import stopping


@pytest.fixture(autouse=True)
def handlers():
    """Whatever a test leaves (the savers ignore SIGINT), the session keeps
    its own handlers."""
    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    for s, handler in saved.items():
        signal.signal(s, handler)


def interrupt_after(*seconds):
    for delay in seconds:
        threading.Timer(delay, os.kill, (os.getpid(), signal.SIGINT)).start()


def test_the_stop_reaches_the_worker_as_an_interrupt():
    heard = []

    def work():
        try:
            while True:
                time.sleep(0.01)
        except KeyboardInterrupt:
            heard.append(threading.current_thread().name)
            raise
    interrupt_after(0.2)
    with pytest.raises(KeyboardInterrupt) as raised:
        stopping.run_in_worker(work, grace=5)
    assert heard == ["tfstyle-run"] and not isinstance(raised.value, stopping.Stuck)


def test_a_stop_waits_for_the_final_files_beyond_the_grace_period():
    wrote = []

    def work():
        with stopping.held():
            time.sleep(1.0)  # a slow final write, longer than the grace period
            wrote.append("files")
        time.sleep(5)  # not reached: the stop is raised as held ends
        wrote.append("more")
    interrupt_after(0.2)
    with pytest.raises(KeyboardInterrupt) as raised:
        stopping.run_in_worker(work, grace=0.3)
    assert wrote == ["files"] and not isinstance(raised.value, stopping.Stuck)


def test_a_second_stop_ends_the_wait_without_interrupting_the_worker_again():
    cleaned = threading.Event()

    def work():
        try:
            while True:
                time.sleep(0.01)
        except KeyboardInterrupt:
            time.sleep(0.6)  # writing what the first stop asked for
            cleaned.set()
            raise
    interrupt_after(0.2, 0.35)
    started = time.monotonic()
    with pytest.raises(stopping.Stuck):
        stopping.run_in_worker(work, grace=5)
    assert time.monotonic() - started < 2  # the second stop did not wait for 5 s
    assert cleaned.wait(2)  # and the worker's handler was not cut by a second interrupt


def test_a_worker_stuck_in_a_long_op_has_its_savers_called():
    saved = []

    def work():
        with stopping.saver(lambda: saved.append("last iterate") or "written"):
            time.sleep(3)  # no interrupt reaches a thread inside a sleep (or a TF op)
    interrupt_after(0.2)
    started = time.monotonic()
    with pytest.raises(stopping.Stuck):
        stopping.run_in_worker(work, grace=0.3)
    assert time.monotonic() - started < 2
    assert saved == ["last iterate"] and stopping.saved() == ["written"]


def test_the_work_s_value_and_errors_come_back():
    assert stopping.run_in_worker(lambda: 42) == 42
    with pytest.raises(ValueError, match="bad"):
        stopping.run_in_worker(lambda: (_ for _ in ()).throw(ValueError("bad")))
