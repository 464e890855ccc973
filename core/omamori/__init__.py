"""Omamori (お守り): protect illustrations from AI training and image-to-image reuse."""

__version__ = "0.1.0"
