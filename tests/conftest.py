"""Shared test setup. Feature folders add their own conftest.py beside their tests."""
