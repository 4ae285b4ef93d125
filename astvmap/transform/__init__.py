"""The rewrite: per-example function AST + argument Vals -> batched function AST (NOTE [batch axis at 0])."""
