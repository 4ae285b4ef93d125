"""From a Python callable to a checked, normalized function AST: source.py finds it, passes.py runs the
pass list (fence.py, normalize.py); breaks.py is lowered on demand by the walker."""
