"""The HTTP API under /api: thin routers over the services."""
