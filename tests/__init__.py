"""The test suite: ``tests.helpers`` is its toolkit (importable because the repository root is on the path)."""
