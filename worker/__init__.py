"""The Temporal worker process: runs turn workflows and their activities."""
