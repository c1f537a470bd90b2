"""WooCommerce (REST API v3): client (HTTP only) -> mapping (pure) -> adapter."""
