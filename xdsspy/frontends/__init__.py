"""Front ends: processes that follow a recording (live or finished) and show it."""
