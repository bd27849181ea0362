"""The terminal UI: a thin Textual front end over xdsspy.viewmodel, for live captures and recordings alike."""
