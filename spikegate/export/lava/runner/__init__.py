"""Lava-side code: ``runner.py`` is executed by the Python 3.10 interpreter of the Lava
environment as a script and is never imported by spikegate. It sits in a folder of its own
because Lava searches the folder of a process class for its process models."""
