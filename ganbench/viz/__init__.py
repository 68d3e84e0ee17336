"""Pictures: the things a person would rather look at than read."""
