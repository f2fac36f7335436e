"""Interaction events: decoding, validation against schemas/, normalisation."""
