"""Conditional generators (normalised scene parameters -> RGB image) and a conditional discriminator."""
