"""Sales channels: one package per platform (client -> pure mapping -> adapter)."""
