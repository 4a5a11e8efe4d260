"""Seeing the arena from above: camera model, markers, the simulated camera and the tracker."""
