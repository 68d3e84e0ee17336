"""ganbench: train reference GANs and measure them with numbers that mean what papers mean."""

__version__ = "0.1.0"
