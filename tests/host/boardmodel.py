"""The shared engine as a Pico or an ESP32 computes it, on CPython.

A board's MicroPython has single-precision floats and 32-bit viper integers;
the unix port that CI runs has neither (double floats, 64-bit viper ints).
This module loads heelcore's modules through an AST rewrite that models the
board's arithmetic, so that a test can compare the board's events with the
host's on any trace:

- every float that any expression produces (arithmetic, math.*, float(),
  literals) is rounded to single precision (via struct 'f'), as on a port
  built with MICROPY_FLOAT_IMPL_FLOAT; an overflow becomes an infinity;
- in @micropython.viper functions, every integer result of an operator is
  wrapped to 32 bits (two's complement), as the board's machine words do,
  and the line is recorded (`overflows`) so a failing test can say where.

    with board_engine() as heelcore_engine:   # a fresh heelcore, rewritten
        Engine = heelcore_engine.Engine

Plain integers outside viper code are exact on every port (MicroPython ints
grow as needed), so they are left alone.
"""
import ast
import contextlib
import importlib.util
import os
import struct
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HEELCORE = os.path.join(ROOT, "firmware", "lib", "heelcore")
overflows = {}  # (module, line) -> count


def f32(x):
    if type(x) is float:
        try:
            return struct.unpack("f", struct.pack("f", x))[0]
        except OverflowError:
            return float("inf") if x > 0 else float("-inf")
    return x


def i32(x, where):
    if type(x) is int and not -2147483648 <= x <= 2147483647:
        if where[1]:
            overflows[where] = overflows.get(where, 0) + 1
        x = ((x + 2147483648) & 0xFFFFFFFF) - 2147483648
    return x


class _Board(ast.NodeTransformer):
    def __init__(self, module):
        self.module = module
        self.viper = 0

    @staticmethod
    def _is_viper(fn):
        for d in fn.decorator_list:
            if isinstance(d, ast.Attribute) and d.attr == "viper":
                return True
        return False

    def visit_FunctionDef(self, node):
        v = self._is_viper(node)
        self.viper += v
        self.generic_visit(node)
        self.viper -= v
        return node

    def _wrap(self, node, lineno):
        if self.viper:
            call = ast.Call(func=ast.Name("BOARDMODEL_I32", ast.Load()),
                            args=[node, ast.Constant((self.module, lineno))], keywords=[])
        else:
            call = ast.Call(func=ast.Name("BOARDMODEL_F32", ast.Load()), args=[node], keywords=[])
        return ast.copy_location(call, node)

    def visit_BinOp(self, node):
        self.generic_visit(node)
        return self._wrap(node, node.lineno)

    def visit_UnaryOp(self, node):
        self.generic_visit(node)
        if isinstance(node.op, (ast.USub, ast.UAdd)):
            return self._wrap(node, node.lineno)
        return node

    def visit_AugAssign(self, node):
        self.generic_visit(node)
        load = _as_load(node.target)
        # "k32 <<= 16" is the engine's idiom for 2**32 on a 64-bit port: it
        # is 0 on a board, by design (and then never used): not an overflow
        line = 0 if isinstance(node.target, ast.Name) and node.target.id == "k32" else node.lineno
        value = self._wrap(ast.copy_location(ast.BinOp(load, node.op, node.value), node), line)
        return ast.copy_location(ast.Assign(targets=[node.target], value=value), node)

    def visit_Call(self, node):
        self.generic_visit(node)
        f = node.func
        is_float = (isinstance(f, ast.Name) and f.id == "float") or (
            isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) and f.value.id == "math")
        if is_float and not self.viper:
            return ast.copy_location(ast.Call(func=ast.Name("BOARDMODEL_F32", ast.Load()), args=[node], keywords=[]), node)
        return node

    def visit_Constant(self, node):
        if type(node.value) is float:
            return ast.copy_location(ast.Constant(f32(node.value)), node)
        return node


def _as_load(t):
    if isinstance(t, ast.Name):
        return ast.Name(t.id, ast.Load())
    if isinstance(t, ast.Subscript):
        return ast.Subscript(t.value, t.slice, ast.Load())
    if isinstance(t, ast.Attribute):
        return ast.Attribute(t.value, t.attr, ast.Load())
    raise TypeError(t)


def _load(name, root):
    path = os.path.join(root, name.split(".")[-1] + ".py")
    with open(path) as f:
        tree = ast.parse(f.read(), path)
    tree = ast.fix_missing_locations(_Board(name).visit(tree))
    spec = importlib.util.spec_from_loader(name, loader=None, origin=path)
    mod = importlib.util.module_from_spec(spec)
    mod.__file__ = path
    mod.__dict__["BOARDMODEL_F32"] = f32
    mod.__dict__["BOARDMODEL_I32"] = i32
    sys.modules[name] = mod
    exec(compile(tree, path, "exec"), mod.__dict__)
    return mod


MODULES = ("mpcompat", "ticks", "config", "events", "imath", "reps", "fusion", "engine")


@contextlib.contextmanager
def board_engine(root=HEELCORE, modules=MODULES):
    """heelcore.engine (and everything it imports) rewritten for the board's
    arithmetic; sys.modules is restored afterwards."""
    saved = {k: v for k, v in sys.modules.items() if k == "heelcore" or k.startswith("heelcore.")}
    for k in saved:
        del sys.modules[k]
    try:
        import heelcore  # noqa: F401  (the package itself has no arithmetic)
        for name in modules:
            _load("heelcore." + name, root)
        yield sys.modules["heelcore.engine"]
    finally:
        for k in [k for k in sys.modules if k == "heelcore" or k.startswith("heelcore.")]:
            del sys.modules[k]
        sys.modules.update(saved)
