# Run test code with MicroPython's heap locked (micropython.heap_lock): any
# heap allocation inside raises MemoryError. On CPython, or a port without
# heap_lock, the code just runs, and the test still checks what it computes.
#
#   from heaplock import heap_locked
#   n = heap_locked(lambda: imu.read_fifo(buf, 8))
#
# (Build the closure before the call: making it allocates. A bytecode frame
# that would go to the heap goes to the C stack while the heap is locked, so
# heap_lock does not see call frames; gc.mem_alloc does.)
try:
    import micropython

    _lock = micropython.heap_lock
    _unlock = micropython.heap_unlock
except (ImportError, AttributeError):  # CPython
    _lock = _unlock = None


def heap_locked(fn):
    """fn() with the heap locked where MicroPython can lock it; returns its result."""
    if _lock is None:
        return fn()
    _lock()
    try:
        return fn()
    finally:
        _unlock()
