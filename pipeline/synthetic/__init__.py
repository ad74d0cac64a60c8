"""Generators for data the project makes itself: product shots and occluders."""
