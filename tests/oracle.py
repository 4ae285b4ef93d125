"""The reference semantics of ``astvmap.vmap``: the per-example loop.

``loop_vmap`` is the promise of DESIGN.md written out naively: slice every mapped argument leaf at
example ``b`` along its in-axis, call the function, stack every output leaf along its out-axis.
``assert_vmap_equivalent`` compares ``astvmap.vmap`` against it, and ``check_all_placements`` runs that
comparison for every placement of the batch axis and the batch sizes the design asks for
(0, 1, 3, 7 and every per-example length: the "mixed ranks" trap bites when B == n).

Trees follow jax: tuples, lists, dicts, namedtuples (rebuilt as ``cls(*items)``), dataclasses (their fields,
rebuilt with ``dataclasses.replace``) and the user types given to ``register_pytree`` here (the oracle keeps its
own registry: a test registers a type with astvmap and with the oracle).

Nothing here touches astvmap internals: only ``astvmap.vmap``, ``astvmap.PerformanceWarning``.
"""

from __future__ import annotations

import copy
import dataclasses
import inspect
import itertools
import warnings

import numpy as np
import pytest

import astvmap

__all__ = [
    "DEFAULT_BATCH_SIZES",
    "ProbeFailed",
    "assert_vmap_equivalent",
    "check_all_placements",
    "loop_vmap",
    "make_batch",
    "register_pytree",
]

DEFAULT_BATCH_SIZES = (0, 1, 3, 7)


class ProbeFailed(Exception):
    """B == 0 needs the per-example output shape; calling f on a zero-filled example failed."""


# --------------------------------------------------------------------------- trees


_REGISTERED = {}  # type -> (flatten, unflatten): user containers (register_pytree)


def register_pytree(cls, flatten, unflatten):
    """Teach the oracle a user container type, as ``astvmap.register_pytree`` teaches vmap."""
    _REGISTERED[cls] = (flatten, unflatten)


def _node(x):
    """``(children, rebuild)`` of a container (``rebuild(children)`` makes one of its type), None for a
    leaf."""
    t = type(x)
    if t in _REGISTERED:
        flatten, unflatten = _REGISTERED[t]
        children, aux = flatten(x)
        return list(children), lambda items: unflatten(aux, tuple(items))
    if isinstance(x, dict):
        keys = list(x)
        return [x[k] for k in keys], lambda items: dict(zip(keys, items))
    if isinstance(x, tuple) and hasattr(t, "_fields"):
        return list(x), lambda items: t(*items)
    if isinstance(x, (tuple, list)):
        return list(x), lambda items: t(items)
    if dataclasses.is_dataclass(x) and not isinstance(x, type):
        names = [f.name for f in dataclasses.fields(x)]
        return [getattr(x, n) for n in names], lambda items: dataclasses.replace(x, **dict(zip(names, items)))
    return None


def _is_container(x):
    return _node(x) is not None


def _is_axis(a):
    return a is None or (isinstance(a, (int, np.integer)) and not isinstance(a, (bool, np.bool_)))


def _leaves(tree):
    node = _node(tree)
    if node is None:
        return [tree]
    return [leaf for child in node[0] for leaf in _leaves(child)]


def _map2(fn, axes, tree):
    """Apply fn(axis, leaf) over a tree of values and its expanded axes (``expand_axes``)."""
    node = _node(tree)
    if node is None:
        return fn(axes, tree)
    children, rebuild = node
    return rebuild([_map2(fn, a, t) for a, t in zip(axes, children)])


def expand_axes(axes, tree, what="in_axes"):
    """Expand an axes prefix tree to the full structure of ``tree`` (None and ints broadcast): a leaf's
    axis, or for a container the list of its children's expanded axes. A container of axes must have the
    tree's structure: a tuple/list (or namedtuple) of as many entries for a tuple, list or namedtuple, a
    dict of the same keys for a dict, an instance of the same type for a dataclass or registered type."""
    node = _node(tree)
    if _is_axis(axes):
        if node is None:
            return None if axes is None else int(axes)
        return [expand_axes(axes, c, what) for c in node[0]]
    anode = _node(axes)
    if node is None or anode is None or len(anode[0]) != len(node[0]):
        raise ValueError(f"{what} structure {axes!r} does not match value structure")
    if isinstance(tree, dict):
        if not isinstance(axes, dict) or set(axes) != set(tree):
            raise ValueError(f"{what} structure {axes!r} does not match value structure")
        return [expand_axes(axes[k], tree[k], what) for k in tree]
    sequence = isinstance(tree, (tuple, list)) and type(tree) not in _REGISTERED
    if sequence != (isinstance(axes, (tuple, list)) and type(axes) not in _REGISTERED):
        raise ValueError(f"{what} structure {axes!r} does not match value structure")
    if not sequence and type(axes) is not type(tree):
        raise ValueError(f"{what} structure {axes!r} does not match value structure")
    return [expand_axes(a, t, what) for a, t in zip(anode[0], node[0])]


def _positional_params(f):
    try:
        sig = inspect.signature(f)
    except (TypeError, ValueError):
        return None, False
    params = list(sig.parameters.values())
    positional = [
        p.name
        for p in params
        if p.kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    ]
    has_var = any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in params)
    return positional, has_var


def resolve_axes(f, in_axes, args, kwargs):
    """The axes prefix of every positional and keyword argument, by the documented rules.

    - int/None: every positional argument (and keyword argument naming a positional parameter);
    - tuple/list: one entry per positional parameter, parameters beyond it are unmapped;
    - dict: parameter name -> axes, unnamed parameters unmapped;
    - keyword-only parameters are unmapped unless a top-level dict names them.
    """
    positional, _ = _positional_params(f)
    if isinstance(in_axes, list):
        in_axes = tuple(in_axes)

    def for_position(i):
        if isinstance(in_axes, dict):
            if positional is None or i >= len(positional):
                return None
            return in_axes.get(positional[i])
        if isinstance(in_axes, tuple):
            return in_axes[i] if i < len(in_axes) else None
        return in_axes

    def for_keyword(name):
        if isinstance(in_axes, dict):
            return in_axes.get(name)
        if positional is None or name not in positional:
            return None
        return for_position(positional.index(name))

    arg_axes = [for_position(i) for i in range(len(args))]
    kw_axes = {k: for_keyword(k) for k in kwargs}
    return arg_axes, kw_axes


# --------------------------------------------------------------------------- the loop


def _norm_axis(ax, ndim, what):
    a = ax + ndim if ax < 0 else ax
    if not 0 <= a < ndim:
        raise ValueError(f"{what}: axis {ax} out of range for rank {ndim}")
    return a


def _slice(leaf, ax, b):
    arr = np.asarray(leaf) if not isinstance(leaf, np.ndarray) else leaf
    a = _norm_axis(ax, arr.ndim, "in_axes")
    return arr[(slice(None),) * a + (b,)]


def _zero_example(leaf, ax):
    arr = np.asarray(leaf)
    a = _norm_axis(ax, arr.ndim, "in_axes")
    shape = arr.shape[:a] + arr.shape[a + 1 :]
    return np.zeros(shape, dtype=arr.dtype)[()] if shape == () else np.zeros(shape, dtype=arr.dtype)


def loop_vmap(f, in_axes, out_axes, args, axis_size=None, kwargs=None):
    """The reference: ``[f(*args sliced at b) for b in range(B)]`` stacked along ``out_axes``.

    Raises ``ProbeFailed`` when B == 0 and the per-example output shape cannot be found by calling f on a
    zero-filled example.
    """
    kwargs = dict(kwargs or {})
    args = tuple(args)
    arg_prefix, kw_prefix = resolve_axes(f, in_axes, args, kwargs)
    arg_axes = [expand_axes(a, v) for a, v in zip(arg_prefix, args)]
    kw_axes = [expand_axes(kw_prefix[k], v) for k, v in kwargs.items()]  # (in the order of kwargs)

    sizes = set()

    def collect(ax, leaf):
        if ax is not None:
            arr = np.asarray(leaf)
            sizes.add(arr.shape[_norm_axis(ax, arr.ndim, "in_axes")])
        return leaf

    _map2(collect, arg_axes, list(args))
    _map2(collect, kw_axes, kwargs)
    if len(sizes) > 1:
        raise ValueError(f"inconsistent batch sizes {sorted(sizes)}")
    if sizes:
        B = sizes.pop()
        if axis_size is not None and axis_size != B:
            raise ValueError(f"axis_size={axis_size} but mapped size {B}")
    elif axis_size is None:
        raise ValueError("nothing mapped and no axis_size")
    else:
        B = axis_size

    def example(b):
        pick = lambda ax, leaf: leaf if ax is None else _slice(leaf, ax, b)
        return (_map2(pick, arg_axes, list(args)), _map2(pick, kw_axes, kwargs))

    if B == 0:
        zero = lambda ax, leaf: leaf if ax is None else _zero_example(leaf, ax)
        zargs = _map2(zero, arg_axes, list(args))
        zkw = _map2(zero, kw_axes, kwargs)
        try:
            with np.errstate(all="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                probe = f(*zargs, **zkw)
        except Exception as e:
            raise ProbeFailed(f"{type(e).__name__}: {e}") from e
        outs = []
    else:
        outs = []
        for b in range(B):
            a, k = example(b)
            outs.append(f(*a, **k))
        probe = outs[0]

    oaxes = expand_axes(out_axes, probe, "out_axes")
    return _stack(oaxes, probe, outs, B)


def _stack(oaxes, probe, outs, B):
    node = _node(probe)
    if node is not None:
        children, rebuild = node
        if isinstance(probe, dict):
            columns = [[o[k] for o in outs] for k in probe]
        else:
            columns = [list(c) for c in zip(*(_node(o)[0] for o in outs))] if outs else [[] for _ in children]
        return rebuild([_stack(a, p, col, B) for a, p, col in zip(oaxes, children, columns)])
    ax = oaxes
    if ax is None:
        for o in outs[1:]:
            if not np.array_equal(np.asarray(o), np.asarray(outs[0]), equal_nan=True):
                raise ValueError("out_axes=None but the output differs between examples")
        return probe
    if B == 0:
        p = np.asarray(probe)
        a = _norm_axis(ax, p.ndim + 1, "out_axes")
        shape = list(p.shape)
        shape.insert(a, 0)
        return np.empty(shape, dtype=p.dtype)
    return np.stack([np.asarray(o) for o in outs], axis=ax)


# --------------------------------------------------------------------------- comparison


def _tolerances(dtype):
    if dtype.kind in "fc":
        if np.finfo(dtype).bits <= 32 or dtype == np.complex64:
            return 2e-4, 2e-4
        return 1e-7, 1e-7
    return 0.0, 0.0


def _array_leaves(tree):
    return [x for x in _leaves(tree) if isinstance(x, np.ndarray)]


def _compare(result, expected, oaxes, inputs, path="out", check_fresh=True, rtol=None, atol=None):
    if isinstance(expected, dict):
        assert isinstance(result, dict), f"{path}: expected a dict, got {type(result).__name__}"
        assert set(result) == set(expected), f"{path}: keys {sorted(result)} != {sorted(expected)}"
        for k, a in zip(expected, oaxes):
            _compare(result[k], expected[k], a, inputs, f"{path}[{k!r}]", check_fresh, rtol, atol)
        return
    node = _node(expected)
    if node is not None:
        assert type(result) is type(expected), (
            f"{path}: expected {type(expected).__name__}, got {type(result).__name__}"
        )
        got = _node(result)[0]
        assert len(got) == len(node[0]), f"{path}: {len(got)} children != {len(node[0])}"
        if hasattr(type(expected), "_fields"):
            assert result._fields == expected._fields, (
                f"{path}: fields {result._fields} != {expected._fields}"
            )
        for i, (r, e, a) in enumerate(zip(got, node[0], oaxes)):
            _compare(r, e, a, inputs, f"{path}[{i}]", check_fresh, rtol, atol)
        return
    exp = np.asarray(expected)
    if oaxes is not None:
        assert isinstance(result, np.ndarray), f"{path}: expected an ndarray, got {type(result).__name__}"
    res = np.asarray(result)
    assert res.shape == exp.shape, f"{path}: shape {res.shape} != expected {exp.shape}"
    assert res.dtype == exp.dtype, f"{path}: dtype {res.dtype} != expected {exp.dtype}"
    if exp.dtype.kind in "fc":
        r0, a0 = _tolerances(exp.dtype)
        r = r0 if rtol is None else rtol
        a = a0 if atol is None else atol
        finite = np.abs(exp[np.isfinite(exp)]) if exp.size else np.zeros(0)
        scale = max(1.0, float(finite.max())) if finite.size else 1.0
        np.testing.assert_allclose(res, exp, rtol=r, atol=a * scale, equal_nan=True, err_msg=path)
    else:
        np.testing.assert_array_equal(res, exp, err_msg=path)
    if oaxes is not None and check_fresh:
        assert res.flags.writeable, f"{path}: result is not writeable"
        for inp in inputs:
            if np.may_share_memory(res, inp):
                try:
                    shares = np.shares_memory(res, inp, max_work=10**6)
                except np.exceptions.TooHardError:  # pragma: no cover
                    shares = True
                assert not shares, f"{path}: result shares memory with an input"
        if res.size > 1:
            assert all(st != 0 for st, n in zip(res.strides, res.shape) if n > 1), (
                f"{path}: result is a broadcast view (zero stride), strides {res.strides}"
            )


def _snapshot(tree):
    return [np.array(x, copy=True) for x in _leaves(tree) if isinstance(x, np.ndarray)]


def _call_vmap(f, in_axes, out_axes, args, call_kwargs, vmap_kwargs, vf_cache=None):
    key = (repr(in_axes), repr(out_axes), repr(sorted(vmap_kwargs.items())))
    if vf_cache is not None and key in vf_cache:
        vf = vf_cache[key]
    else:
        vf = astvmap.vmap(f, in_axes, out_axes, **vmap_kwargs)
        if vf_cache is not None:
            vf_cache[key] = vf
    return vf(*args, **call_kwargs)


def _describe(in_axes, out_axes, args, kwargs):
    def shp(x):
        if isinstance(x, np.ndarray):
            return f"{x.dtype}{list(x.shape)}"
        if isinstance(x, dict):
            return "{" + ", ".join(f"{k}: {shp(v)}" for k, v in x.items()) + "}"
        node = _node(x)
        if node is not None:
            return f"{type(x).__name__}(" + ", ".join(shp(v) for v in node[0]) + ")"
        return repr(x)

    s = f"in_axes={in_axes!r}, out_axes={out_axes!r}, args={[shp(a) for a in args]}"
    if kwargs:
        s += f", kwargs={shp(kwargs)}"
    return s


def _check(
    f,
    in_axes,
    out_axes,
    args,
    *,
    allow_fallback=False,
    call_kwargs=None,
    check_fresh=True,
    check_inputs=True,
    rtol=None,
    atol=None,
    vf_cache=None,
    **vmap_kwargs,
):
    call_kwargs = dict(call_kwargs or {})
    before = _snapshot((list(args), call_kwargs))
    try:
        expected = loop_vmap(
            f, in_axes, out_axes, args, axis_size=vmap_kwargs.get("axis_size"), kwargs=call_kwargs
        )
        expected_exc = None
    except ProbeFailed:
        raise
    except Exception as e:
        expected, expected_exc = None, e
    if check_inputs:
        after_loop = _snapshot((list(args), call_kwargs))
        assert all(np.array_equal(a, b, equal_nan=True) for a, b in zip(before, after_loop)), (
            "the function mutates its inputs; the oracle cannot be used as is"
        )

    with warnings.catch_warnings(record=True) as rec, np.errstate(all="ignore"):
        warnings.simplefilter("always")
        if expected_exc is not None:
            try:
                _call_vmap(f, in_axes, out_axes, args, call_kwargs, vmap_kwargs, vf_cache)
            except Exception:
                return
            raise AssertionError(
                f"the loop raises {type(expected_exc).__name__}: {expected_exc}, but vmap returned normally"
            )
        result = _call_vmap(f, in_axes, out_axes, args, call_kwargs, vmap_kwargs, vf_cache)
    perf = [w for w in rec if issubclass(w.category, astvmap.PerformanceWarning)]
    if perf and not allow_fallback:
        raise AssertionError(
            "unexpected PerformanceWarning (fallback to the loop): "
            + "; ".join(f"{w.filename}:{w.lineno}: {w.message}" for w in perf)
        )
    if check_inputs:
        after = _snapshot((list(args), call_kwargs))
        assert all(np.array_equal(a, b, equal_nan=True) for a, b in zip(before, after)), (
            "vmap mutated its inputs"
        )
    oaxes = expand_axes(out_axes, expected, "out_axes")
    inputs = _array_leaves((list(args), call_kwargs))
    _compare(result, expected, oaxes, inputs, check_fresh=check_fresh, rtol=rtol, atol=atol)


def assert_vmap_equivalent(
    f,
    in_axes,
    out_axes,
    *args,
    allow_fallback=False,
    call_kwargs=None,
    check_fresh=True,
    check_inputs=True,
    rtol=None,
    atol=None,
    skip_unprobeable=True,
    **vmap_kwargs,
):
    """Assert ``astvmap.vmap(f, in_axes, out_axes, **vmap_kwargs)(*args, **call_kwargs)`` equals the loop.

    Same container structure, shape, dtype; allclose with equal_nan for inexact dtypes, exact otherwise;
    mapped results writeable and sharing no memory with any input; inputs not mutated; no
    ``PerformanceWarning`` unless ``allow_fallback``. If the loop raises, vmap must raise too.
    When B == 0 and the per-example output cannot be probed: skips the test (``skip_unprobeable``) or
    returns without checking (``skip_unprobeable=False``, for use inside hypothesis tests).
    """
    try:
        _check(
            f,
            in_axes,
            out_axes,
            args,
            allow_fallback=allow_fallback,
            call_kwargs=call_kwargs,
            check_fresh=check_fresh,
            check_inputs=check_inputs,
            rtol=rtol,
            atol=atol,
            **vmap_kwargs,
        )
    except ProbeFailed as e:
        if skip_unprobeable:
            pytest.skip(f"B == 0: cannot probe the per-example output ({e})")


# --------------------------------------------------------------------------- batches


def make_batch(example, B, rng):
    """B random examples shaped and typed like ``example`` (batch axis first).

    Value ranges follow the example: a positive float example gives positive data, an int example gives
    ints within its range (so index arrays stay valid), bool gives random bools.
    """
    ex = np.asarray(example)
    shape = (B,) + ex.shape
    kind = ex.dtype.kind
    if kind == "b":
        return rng.random(shape) < 0.5
    if kind in "iu":
        lo, hi = (int(ex.min()), int(ex.max())) if ex.size else (0, 3)
        if ex.ndim == 0:
            lo, hi = min(lo, 0), max(hi, 1)
        return rng.integers(lo, hi + 1, size=shape).astype(ex.dtype)
    if kind == "c":
        return (rng.normal(size=shape) + 1j * rng.normal(size=shape)).astype(ex.dtype)
    if kind == "f":
        if ex.size and float(ex.min()) > 0:
            data = rng.uniform(0.5, 2.0, size=shape)
        else:
            data = rng.normal(size=shape)
        return data.astype(ex.dtype)
    raise TypeError(f"cannot batch example of dtype {ex.dtype}")


def _axis_choices(ndim):
    # every placement 0..ndim, then every negative form -1..-(ndim+1)
    return list(range(ndim + 1)) + list(range(-1, -ndim - 2, -1))


def _lengths(tree):
    out = set()
    for leaf in _leaves(tree):
        out.update(int(d) for d in np.shape(leaf) if d > 0)
    return out


def check_all_placements(
    f,
    per_example_args,
    mapped=None,
    batch_sizes=None,
    rng=None,
    *,
    out_axes=0,
    extra_out_axes=(-1,),
    allow_fallback=False,
    **kwargs,
):
    """Check f with the oracle for every batch-axis placement of every mapped argument and every batch size.

    ``per_example_args``: one per-example value per positional parameter (arrays, Python scalars, or
    tuple/list/dict trees of them). ``mapped``: one bool per argument (default: all mapped); unmapped
    arguments are passed as they are with in_axes None. Batch sizes default to 0, 1, 3, 7 and every
    per-example length of every argument (B == n is the mixed-ranks trap). Placements are enumerated
    jointly: placement j puts each mapped leaf at ``choices[j % len(choices)]`` where choices are
    0..ndim and -1..-(ndim+1). Extra ``out_axes`` values are checked once with B = 3.
    """
    args = list(per_example_args)
    if mapped is None:
        mapped = [True] * len(args)
    mapped = list(mapped)
    assert len(mapped) == len(args), "one mapped flag per argument"
    rng = np.random.default_rng(0) if rng is None else rng
    if batch_sizes is None:
        extra = sorted(_lengths(args) - set(DEFAULT_BATCH_SIZES))
        batch_sizes = list(DEFAULT_BATCH_SIZES) + extra
    leaf_choices = [_axis_choices(np.ndim(leaf)) for a, m in zip(args, mapped) if m for leaf in _leaves(a)]
    n_place = max((len(c) for c in leaf_choices), default=1)

    def axes_tree(arg, j):
        node = _node(arg)
        if node is not None:
            return node[1]([axes_tree(v, j) for v in node[0]])
        c = _axis_choices(np.ndim(arg))
        return c[j % len(c)]

    def batched(arg, axes, B):
        node = _node(arg)
        if node is not None:
            return node[1]([batched(v, a, B) for v, a in zip(node[0], _node(axes)[0])])
        data = make_batch(arg, B, rng)
        return np.moveaxis(data, 0, axes)

    vf_cache = {}  # one vmapped function per (in_axes, out_axes), reused across batch sizes

    def run(j, B, oa):
        in_axes = tuple(axes_tree(a, j) if m else None for a, m in zip(args, mapped))
        call_args = [
            batched(a, ax, B) if ax is not None else copy.deepcopy(a) for a, ax in zip(args, in_axes)
        ]
        try:
            _check(f, in_axes, oa, call_args, allow_fallback=allow_fallback, vf_cache=vf_cache, **kwargs)
        except ProbeFailed:
            if B != 0:
                raise
        except Exception as e:
            raise AssertionError(
                f"{getattr(f, '__name__', f)!s} with B={B}, {_describe(in_axes, oa, call_args, None)}: "
                f"{type(e).__name__}: {e}"
            ) from e

    for j, B in itertools.product(range(n_place), batch_sizes):
        run(j, B, out_axes)
    for oa in extra_out_axes:
        if oa != out_axes:
            run(0, 3, oa)


def assert_generated_program(f, in_axes, args, note: str) -> None:
    """A generated program against the loop: equal, or a fallback that is (`allow_fallback`); and no
    error of ours reported along the way. `note` (the seed, the sizes, the source) is added to any
    failure."""
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        try:
            assert_vmap_equivalent(f, in_axes, 0, *args, allow_fallback=True)
        except Exception as e:
            e.add_note(note)
            raise
    reported = [w for w in rec if "please report" in str(w.message)]
    assert not reported, f"an error of ours: {reported[0].message}\n{note}"
