"""Deterministic workflow code only: the chat turn, its stop handling and compensation."""
