"""Curriculum: levels, the gate, lessons, the judge and the coach."""
