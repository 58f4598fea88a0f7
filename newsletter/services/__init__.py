"""Workflows across tables. Services take plain values and ids and never commit."""
