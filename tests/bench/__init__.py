"""The benchmark script (bench/run.py) run end to end."""
