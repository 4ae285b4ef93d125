"""Generic AST tools (templates, fresh names, source origins) that know nothing of batching."""
