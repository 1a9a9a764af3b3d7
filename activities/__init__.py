"""All I/O of a turn: model streaming, tool execution and the thread store."""
