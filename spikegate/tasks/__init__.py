"""Importable task definitions: data, model factory and metric, no argparse."""
