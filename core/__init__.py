"""Pieces every process shares: settings, the contracts between API, workflows and activities."""
