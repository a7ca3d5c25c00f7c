"""Figures lesson 05 states in prose, computed from the course's data."""

from __future__ import annotations

from . import Figure

FIGURES: list[Figure] = []
