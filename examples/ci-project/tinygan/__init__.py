"""A GAN project's own model: what ganbench gates in this example's CI."""
