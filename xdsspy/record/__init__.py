"""Recording files: the on-disk format, its writer, its reader and format migrations."""
