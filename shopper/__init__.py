"""shopper: a mystery shopper for phone systems."""

__version__ = "0.1.0"
