"""From a batched FunctionDef to text (emit.py) and to a live function (loader.py)."""
