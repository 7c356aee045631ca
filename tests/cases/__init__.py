"""Tests of the counter-trafficking case database (imdx.cases)."""
