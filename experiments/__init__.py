"""The reproduction driver (reproduce_synthetic.py) and its parts: protocol, runner, results,
stats, analysis, report."""
