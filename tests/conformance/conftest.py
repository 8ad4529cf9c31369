"""The conformance suite runs on the shared formula fixtures of tests/expr/fixtures.py."""
