"""Tests that need root (loop devices, mounts); marked ``root``."""
