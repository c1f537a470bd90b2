"""shopbridge."""
