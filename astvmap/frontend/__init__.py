"""From a Python callable to a checked function AST: source.py, fence.py."""
