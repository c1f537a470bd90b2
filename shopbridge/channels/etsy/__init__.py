"""Etsy Open API v3: models of the JSON shopbridge consumes, pure mapping to domain records."""
