"""hvppi: sequence-based human–virus protein–protein interaction prediction."""

__version__ = "0.1.0"
