"""Memory models: named axioms over execution graphs."""
