"""Compilers from checked syntax trees to Python closures, SQL expressions and JavaScript."""
